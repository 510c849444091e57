'use strict';
// The latency policies, over the core's state machines (pp_breaker,
// pp_trigger, the process-wide rate limiter and timed captures): the same
// objects as Python's, with JavaScript names.
const path = require('path');
const native = require('./native');
const { PolyprofError, fromUserOptions } = require('./options');
const { Profile } = require('./profile');

// Monotonic seconds; tests pass their own clock.
const monotonic = () => Number(process.hrtime.bigint()) / 1e9;
const ns = (clock) => Math.round(clock() * 1e9);

function coreError(e) {
  return new PolyprofError(e.message);
}

/** At most maxCaptures triggered captures per windowSeconds, for every trigger of the process (default 1 per 5 min). */
function configureRateLimit(maxCaptures = 1, windowSeconds = 300) {
  try {
    native.rateLimit(maxCaptures, windowSeconds);
  } catch (e) {
    throw coreError(e);
  }
}

/**
 * Stops profiling when it hurts the application: while profiling, a latency
 * above the baseline by more than maxLatencyIncreasePct is a violation;
 * violationThreshold in a row trip it (the profilers it guards stop) and it
 * stays open for cooldownSeconds. Good checks take violations back. The
 * baseline is learned from latencies recorded while not profiling, or given.
 */
class CircuitBreaker {
  constructor({ maxLatencyIncreasePct = 5, violationThreshold = 3, cooldownSeconds = 60, clock = monotonic } = {}) {
    try {
      this._b = native.breakerNew(maxLatencyIncreasePct, violationThreshold, cooldownSeconds);
    } catch (e) {
      throw coreError(e);
    }
    this._clock = clock;
    this._guarded = [];
  }

  /** Stops `profiler` (anything with stop()) when the breaker trips. */
  guard(profiler) {
    this._guarded.push(profiler);
    return profiler;
  }

  /** One request's latency; true when this call tripped the breaker. */
  recordLatency(currentMs, baselineMs) {
    const tripped = native.breakerRecord(this._b, currentMs, baselineMs ?? -1, native.coreStats().running === 1, ns(this._clock));
    if (tripped) {
      for (const p of this._guarded) {
        try {
          // On the request path: pushes to Pyroscope finish in the background.
          if (typeof p._stopOnRequestPath === 'function') p._stopOnRequestPath();
          else p.stop();
        } catch {
          // a profiler that cannot stop must not break the request path
        }
      }
    }
    return tripped;
  }

  canProfile() {
    return !this.state.open;
  }

  /** {open, trips, lastTrip (clock seconds or null), violations, baselineMs} */
  get state() {
    const st = native.breakerState(this._b, ns(this._clock));
    return { open: st.open, trips: st.trips, lastTrip: st.lastTripNs ? st.lastTripNs / 1e9 : null, violations: st.violations, baselineMs: st.baselineMs };
  }

  get isOpen() {
    return this.state.open;
  }

  get trips() {
    return this.state.trips;
  }
}

/**
 * High-fidelity captures when latency degrades: the p95 of the last 100
 * latencies (once there are 20) above latencyThresholdMs, outside the
 * cooldown and within the process-wide rate limit, starts a capture of
 * profileDurationSeconds at intervalMs. Its profile goes to
 * exporter(profile, metadata) (trigger, p95, thresholdMs, start, end) or to
 * the local store. trigger(reason) starts one by hand; scheduleEveryMinutes
 * starts one on a schedule; both go through the same rate limit.
 */
class TriggeredProfiler {
  constructor({
    latencyThresholdMs = 500,
    cooldownSeconds = 300,
    profileDurationSeconds = 30,
    intervalMs = 10,
    exporter,
    store,
    mode = 'cpu',
    native: withNative = true,
    service,
    breaker,
    clock = monotonic,
    scheduleEveryMinutes,
  } = {}) {
    if (exporter !== undefined && exporter !== null && typeof exporter !== 'function') {
      throw new TypeError('exporter must be a function (profile, metadata) => {}');
    }
    try {
      this._t = native.triggerNew(latencyThresholdMs, cooldownSeconds);
    } catch (e) {
      throw coreError(e);
    }
    if (mode === 'alloc') {
      throw new PolyprofError(
        "TriggeredProfiler captures where time goes (mode 'cpu' or 'wall'); for allocations use start({ mode: 'alloc' }) or a ContinuousProfiler in mode 'alloc'",
      );
    }
    const { core } = fromUserOptions({ intervalMs, mode, native: withNative, durationSeconds: profileDurationSeconds }, 'TriggeredProfiler');
    core.cpu_budget = '1%';
    this._core = core;
    this.thresholdMs = latencyThresholdMs;
    this._exporter = exporter ?? null;
    this._store = store;
    if (!this._exporter) {
      try {
        native.storeKeyCheck(); // $POLYPROF_STORE_KEY: a bad key fails now, not at the first capture
      } catch (e) {
        throw coreError(e);
      }
    }
    this._service = service ?? path.basename(process.argv[1] || process.execPath, '.js');
    this._breaker = breaker ?? null;
    this._clock = clock;
    this._capture = null;
    this.captures = [];
    this._schedule = null;
    if (scheduleEveryMinutes !== undefined) {
      if (typeof scheduleEveryMinutes !== 'number' || !(scheduleEveryMinutes > 0)) {
        throw new PolyprofError(`TriggeredProfiler: scheduleEveryMinutes must be a positive number, not ${JSON.stringify(scheduleEveryMinutes)}`);
      }
      this._schedule = setInterval(() => this.trigger('scheduled'), scheduleEveryMinutes * 60000);
      this._schedule.unref();
    }
  }

  /** One request's latency; true when it started a capture. */
  recordLatency(ms) {
    const [fire, p95] = native.triggerRecord(this._t, ms, ns(this._clock));
    return fire ? this._start('p95', p95) : false;
  }

  /** A capture now, within the rate limit; true when it started. */
  trigger(reason = 'manual') {
    return native.triggerManual(this._t, ns(this._clock)) ? this._start(String(reason), null) : false;
  }

  _start(reason, p95) {
    if (this._breaker && !this._breaker.canProfile()) return false;
    if (this._capture && !native.captureDone(this._capture)) return false; // one at a time
    const meta = { trigger: reason, p95, thresholdMs: this.thresholdMs };
    const onDone = (prof, start, end) => {
      const md = { ...meta, start, end };
      const profile = new Profile(prof);
      try {
        if (this._exporter) {
          const r = this._exporter(profile, md);
          if (r && typeof r.catch === 'function') r.catch((e) => report(e));
        } else {
          const { Store } = require('./continuous');
          const dir = this._store instanceof Store ? this._store.directory : this._store ?? process.env.POLYPROF_STORE ?? 'profiles';
          const keyFile = this._store instanceof Store ? this._store.keyFile : undefined;
          native.storePut(dir, prof, this._service, this._core.event ?? 'cpu', reason, start, keyFile);
        }
      } catch (e) {
        report(e);
      }
      this.captures.push(md);
    };
    try {
      this._capture = native.captureStart(this._core, onDone);
    } catch (e) {
      throw coreError(e);
    }
    if (this._breaker) this._breaker.guard(this);
    return true;
  }

  /** Ends a running capture now (its profile is still exported) and the schedule. */
  stop() {
    if (this._schedule) clearInterval(this._schedule);
    this._schedule = null;
    if (this._capture) native.captureFinish(this._capture);
    this._capture = null;
  }

  /** Resolves when the running capture has ended and been exported. */
  async wait() {
    while (this._capture && !native.captureDone(this._capture)) await new Promise((r) => setTimeout(r, 10));
  }
}

function report(e) {
  process.stderr.write(`polyprof: exporting a triggered capture failed: ${e && e.stack ? e.stack : e}\n`);
}

/**
 * Express-style middleware: reports each request's latency (to the end of
 * the response) to a CircuitBreaker and/or a TriggeredProfiler.
 */
function latencyMiddleware({ breaker, triggered } = {}) {
  if (!breaker && !triggered) throw new TypeError('latencyMiddleware({ breaker, triggered }): give at least one');
  return function polyprofLatency(req, res, next) {
    const t0 = process.hrtime.bigint();
    res.once('finish', () => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (breaker) breaker.recordLatency(ms);
      if (triggered) triggered.recordLatency(ms);
    });
    next();
  };
}

module.exports = { CircuitBreaker, TriggeredProfiler, configureRateLimit, latencyMiddleware };
