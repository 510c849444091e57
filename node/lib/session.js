'use strict';
// start()/stop() and profile() over three kinds of session:
//  - modes 'cpu' and 'wall': the core's signal-based sampler. It samples the
//    whole process: every thread, with native frames, and the JavaScript
//    frames of every isolate that has loaded polyprof (the main thread, and
//    workers that require('polyprof') or run under `polyprof record`).
//  - mode 'v8': V8's CpuProfiler on the isolate that started it.
//  - mode 'alloc': V8's sampling heap profiler on the isolate that started
//    it (each worker has its own heap). It runs next to one of the others:
//    start() keeps one CPU session and one allocation session at a time.
const fs = require('fs');
const path = require('path');
const { isMainThread, threadId } = require('worker_threads');
const native = require('./native');
const { PolyprofError, fromUserOptions, resolve, v8Spec, withAllocations } = require('./options');
const { Profile, formatOf } = require('./profile');

const THREAD_NAME = isMainThread ? 'main' : `worker ${threadId}`;

// Sessions the addon does not stop by itself at their duration: a timer
// does, keeping the result for stop().
class TimedSession {
  /** Stops the profile once when its duration is over, keeping the result for stop(). */
  stopAfterDuration() {
    if (this.settings.durationUs <= 0) return;
    this.timer = setTimeout(() => {
      try {
        this.stop();
      } catch (e) {
        this.error = e; // a timer must not throw into the program: stop() reports it
      }
    }, this.settings.durationUs / 1000);
    this.timer.unref(); // never keeps the program alive
  }
}

class V8Session extends TimedSession {
  /** @param {object} core options in the core's keys (validated again by the core) */
  constructor(core) {
    super();
    this.settings = resolve(core);
    // V8 runs side-by-side profiles at multiples of the first one's interval:
    // the metadata says what it uses.
    const [id, intervalUs] = native.v8Start(this.settings.intervalUs);
    this.id = id;
    this.settings.spec = v8Spec(intervalUs, this.settings.durationUs);
    this.result = null;
    this.error = null;
    this.timer = null;
  }

  /**
   * Stops collecting (once) and returns the addon's profile, or with an
   * endpoint {scriptId, line, column, value}: {profile, inside}. Samples past
   * the duration are dropped even when the timer fired late.
   */
  stop(endpoint) {
    if (this.error) throw this.error;
    if (!this.result) {
      if (this.timer) clearTimeout(this.timer);
      this.result = native.v8Stop(this.id, {
        threadName: THREAD_NAME,
        spec: this.settings.spec,
        durationUs: this.settings.durationUs,
        endpoint,
      });
    }
    return this.result;
  }
}

class CoreSession {
  /** @param {object} core options in the core's keys, event=cpu|wall */
  constructor(core) {
    this.settings = resolve(core);
    try {
      // Every key as given (the canonical spec names only the sampling keys).
      const spec = Object.entries(core).map(([k, v]) => `${k}=${v}`).join(',');
      this.handle = native.coreStart(spec);
    } catch (e) {
      throw new PolyprofError(e.message); // the core's message, e.g. a sampler already running in another mode
    }
    this.result = null;
  }

  // The core stops collecting at the duration on its own.
  stopAfterDuration() {}

  stop(endpoint) {
    if (endpoint) throw new PolyprofError('endpoint filtering needs mode v8');
    if (!this.result) this.result = native.coreStop(this.handle);
    return this.result;
  }
}

class AllocSession extends TimedSession {
  /** @param {object} core options in the core's keys, event=alloc */
  constructor(core) {
    super();
    this.settings = resolve(core);
    try {
      this.handle = native.allocStart(core, THREAD_NAME);
    } catch (e) {
      throw new PolyprofError(e.message); // e.g. alloc_interval unlike the running allocation profile's
    }
    this.result = null;
    this.error = null;
    this.timer = null;
  }

  stop(endpoint) {
    if (endpoint) throw new PolyprofError('endpoint filtering needs mode v8');
    if (this.error) throw this.error;
    if (!this.result) {
      if (this.timer) clearTimeout(this.timer);
      this.result = native.allocStop(this.handle);
    }
    return this.result;
  }
}

/** A session of the kind the options ask for (`new Session(core)` works too). */
function Session(core) {
  if (core && core.event === 'alloc') return new AllocSession(core);
  return core && core.event ? new CoreSession(core) : new V8Session(core);
}

/** Fail before profiling, not after, when the output cannot be written. */
function checkOutputPath(output, format) {
  if (typeof output !== 'string') throw new TypeError('output must be a path (a string)');
  const dir = path.dirname(path.resolve(output));
  let st;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new PolyprofError(`cannot write the profile to '${output}': directory '${dir}' does not exist`);
  }
  if (!st.isDirectory()) throw new PolyprofError(`cannot write the profile to '${output}': '${dir}' is not a directory`);
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    throw new PolyprofError(`cannot write the profile to '${output}': directory '${dir}' is not writable`);
  }
  if (fs.existsSync(output) && fs.statSync(output).isDirectory()) {
    throw new PolyprofError(`cannot write the profile to '${output}': it is a directory`);
  }
  formatOf(output, format);
}

// What start() runs: at most one CPU session (cpu, wall or v8) and one
// allocation session, by kind.
const userSessions = new Map();
const kindOf = (mode) => (mode === 'alloc' ? 'alloc' : 'cpu');

/** What start() returns: stops its own session(s). */
class RunningSession {
  /** @param {Array<[string, object]>} parts [kind, session]: one, or a time and an allocation session */
  constructor(mode, parts, endpoint = null) {
    this.mode = mode;
    this._parts = parts;
    /** The endpoint start({ endpoint }) serves until stop(), or null. */
    this.endpoint = endpoint;
  }

  /**
   * Stops this session and returns its Profile; for a combined mode
   * ('cpu+alloc'), {cpu|wall|v8: Profile, alloc: Profile}.
   */
  stop() {
    const [kind] = this._parts[0];
    if (userSessions.get(kind) !== this) {
      throw new PolyprofError(`this ${this.mode} profile was already stopped`);
    }
    for (const [k] of this._parts) userSessions.delete(k);
    if (this.endpoint) this.endpoint.stop();
    if (this._parts.length === 1) return new Profile(this._parts[0][1].stop());
    return {
      [withAllocations(this.mode)]: new Profile(this._parts[0][1].stop()),
      alloc: new Profile(this._parts[1][1].stop()),
    };
  }
}

/**
 * Starts profiling. Options: intervalMs (default 10), mode ('cpu' default:
 * CPU time of every thread; 'wall': every thread whether running or
 * waiting; 'v8': V8's CpuProfiler on this thread only; 'alloc': sampled
 * allocations of this thread's heap; 'cpu+alloc', 'wall+alloc', 'v8+alloc':
 * both at once), native (native frames, default true; modes cpu and wall),
 * allocInterval (mean bytes between allocation samples, default 512k),
 * durationSeconds (stop collecting after this long; stop() still returns
 * the profile), endpoint (also serve the local endpoint there until stop():
 * see serve()). One time and one allocation session may run at once; the
 * returned session's stop() ends it.
 */
function start(opts) {
  const isObject = opts !== null && typeof opts === 'object';
  const { endpoint, ...rest } = isObject ? opts : {};
  const { mode, core, allocCore } = fromUserOptions(isObject ? rest : opts, 'polyprof.start()', undefined, {
    combined: true,
  });
  const parts = allocCore ? [['cpu', core], ['alloc', allocCore]] : [[kindOf(mode), core]];
  for (const [kind] of parts) {
    if (userSessions.has(kind)) {
      throw new PolyprofError(
        kind === 'alloc'
          ? `polyprof.start({ mode: '${mode}' }) called twice: an allocation profile is already running; stop it first`
          : 'polyprof.start() called twice: the profiler is already running; call polyprof.stop() first',
      );
    }
  }
  // The endpoint's CPU captures sample as this profile does.
  const served = endpoint === undefined || endpoint === null ? null : serveLike(endpoint, core, rest.options);
  const sessions = [];
  try {
    for (const [kind, c] of parts) sessions.push([kind, new Session(c)]);
  } catch (e) {
    for (const [, started] of sessions) started.stop();
    if (served) served.stop();
    throw e;
  }
  for (const [, started] of sessions) started.stopAfterDuration();
  const running = new RunningSession(mode, sessions, served);
  for (const [kind] of sessions) userSessions.set(kind, running);
  return running;
}

// start({ endpoint }): serve() with the sampling keys of the profile's core
// options (mode cpu or wall), so that both share the sampler.
function serveLike(endpoint, core, options) {
  const keys = core.event === 'cpu' || core.event === 'wall' ? ['interval', 'native', 'signal'] : ['signal'];
  const same = keys.filter((k) => k in core).map((k) => `${k}=${core[k]}`);
  return require('./http_endpoint').serve(endpoint, { options: [options, ...same].filter(Boolean).join(',') });
}

/**
 * Stops the profiling started by start() and returns its Profile (for a
 * combined mode, {cpu: Profile, alloc: Profile}). With two sessions
 * started separately, stop each through the session start() returned.
 */
function stop() {
  const running = new Set(userSessions.values());
  if (running.size === 0) throw new PolyprofError('polyprof.stop() called without polyprof.start()');
  if (running.size > 1) {
    const modes = [...running].map((s) => s.mode).join(' and ');
    throw new PolyprofError(
      `polyprof.stop(): two profiles run (${modes}); call stop() on the session each polyprof.start() returned`,
    );
  }
  return running.values().next().value.stop();
}

function isRunning() {
  return userSessions.size > 0;
}

/**
 * Profiles one call of fn (sync or async) and resolves to its Profile,
 * written to opts.output if given (also when fn throws, which is rethrown).
 */
async function profile(fn, opts) {
  if (typeof fn !== 'function') throw new TypeError('polyprof.profile(fn, options): fn must be a function');
  if (opts !== undefined && opts !== null && typeof opts !== 'object') {
    throw new TypeError('polyprof.profile(fn, options): options must be an object');
  }
  const { output, format, ...rest } = opts ?? {};
  const { core } = fromUserOptions(rest, 'polyprof.profile()', ['intervalMs', 'mode', 'native', 'allocInterval']);
  if (output !== undefined && output !== null) checkOutputPath(output, format);
  const s = new Session(core);
  let failed = false;
  let error;
  try {
    await fn();
  } catch (e) {
    failed = true;
    error = e;
  }
  const prof = new Profile(s.stop());
  if (output !== undefined && output !== null) prof.write(output, format);
  if (failed) throw error;
  return prof;
}

module.exports = { Session, start, stop, isRunning, profile, checkOutputPath, THREAD_NAME };
