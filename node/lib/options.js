'use strict';
// The JavaScript option objects -> the core's option keys. Validation is the
// core's (pp_options_set through the addon): this file only names the
// JavaScript argument in front of the core's message, and knows the one
// Node-only mode, 'v8'. Mode 'alloc' is the core's event=alloc, sampled by
// V8's sampling heap profiler (heap_sampler.cc).
const native = require('./native');

class PolyprofError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PolyprofError';
  }
}

const MODES = ['cpu', 'wall', 'v8', 'alloc'];
const DEFAULT_MODE = 'cpu';
// V8's own CPU profiler (the inspector, node --cpu-prof, mode 'v8') owns
// SIGPROF; the signal-based modes use another signal so both can run.
const DEFAULT_SIGNAL = 'SIGVTALRM';

// One key through the core, so a bad value fails with its message naming the key.
function checkKey(arg, value, key, coreValue, hint = '') {
  try {
    native.parseOptions({ [key]: coreValue });
  } catch (e) {
    throw new PolyprofError(`${arg}=${JSON.stringify(value)}: ${e.message}${hint}`);
  }
}

function isNumber(v) {
  return typeof v === 'number' && Number.isFinite(v);
}

// options: everything else, in the core's grammar ("memory=32m,signal=SIGUSR2"),
// as {key: value}, each key checked by the core; the named options of the
// callers win over the same keys here.
function coreKeys(where, options) {
  const core = {};
  if (options === undefined || options === null) return core;
  if (typeof options !== 'string') {
    throw new TypeError(`${where}: options must be a string in the option grammar, such as 'memory=32m'`);
  }
  for (const item of options.split(',')) {
    const eq = item.indexOf('=');
    const key = (eq < 0 ? item : item.slice(0, eq)).trim();
    if (!key) continue;
    const value = eq < 0 ? '' : item.slice(eq + 1).trim();
    try {
      native.parseOptions({ [key]: value });
    } catch (e) {
      throw new PolyprofError(`${where}: options=${JSON.stringify(options)}: ${e.message}`);
    }
    core[key] = value;
  }
  return core;
}

const SET_BY_FIELD = { interval: 'intervalMs', event: 'mode', native: 'native', duration: 'durationSeconds' };

// {intervalMs, mode, native, durationSeconds, allocInterval} -> {mode, core: {key: value}}:
// mode 'cpu' (default) or 'wall' is the core's signal-based sampler with
// native frames unless native: false; mode 'v8' is V8's CpuProfiler; mode
// 'alloc' is V8's sampling heap profiler, one sample per allocInterval bytes.
// `allowed` lists the option names the caller accepts (unknown ones are typos).
function fromUserOptions(
  opts,
  where,
  allowed = ['intervalMs', 'mode', 'native', 'durationSeconds', 'allocInterval', 'options'],
  { combined = false } = {},
) {
  if (opts === undefined || opts === null) opts = {};
  if (typeof opts !== 'object') throw new TypeError(`${where}: options must be an object, not ${typeof opts}`);
  for (const k of Object.keys(opts)) {
    if (!allowed.includes(k)) {
      throw new PolyprofError(`${where}: unknown option '${k}' (known: ${allowed.join(', ')})`);
    }
  }
  const core = coreKeys(where, opts.options);
  // The core keys these options set: in the options string they would be
  // overridden without a word (interval=1ms ran at intervalMs' default).
  for (const [key, field] of Object.entries(SET_BY_FIELD)) {
    if (key in core) {
      throw new PolyprofError(`${where}: options=${JSON.stringify(opts.options)}: '${key}' is set by ${field}, not in options`);
    }
  }
  const { intervalMs = 10, mode = DEFAULT_MODE, durationSeconds } = opts;
  if (!isNumber(intervalMs)) {
    throw new TypeError(`${where}: intervalMs must be a number of milliseconds, not ${JSON.stringify(intervalMs)}`);
  }
  core.interval = `${intervalMs}ms`;
  checkKey('intervalMs', intervalMs, 'interval', core.interval);
  if (typeof mode !== 'string') throw new TypeError(`${where}: mode must be one of ${MODES.join(', ')}`);
  if (mode === 'alloc') return allocOptions(opts, where, core, durationSeconds);
  const time = withAllocations(mode);
  if (time) {
    // 'cpu+alloc': a time profile and an allocation profile at once, {allocCore} the latter's keys.
    if (!combined) throw new PolyprofError(`${where}: mode '${mode}' is for polyprof.start(), polyprof record and ContinuousProfiler`);
    const { allocInterval, native: withNative, ...rest } = opts;
    const first = fromUserOptions({ ...rest, native: withNative, mode: time }, where, allowed);
    const second = allocOptions({ allocInterval }, where, coreKeys(where, opts.options), durationSeconds);
    return { mode, core: first.core, allocCore: second.core };
  }
  if (opts.allocInterval !== undefined) {
    throw new PolyprofError(`${where}: allocInterval needs mode 'alloc' (allocation profiling)`);
  }
  if (mode !== 'v8') {
    // The core's grammar knows cpu and wall; 'v8' is this bridge's.
    checkKey('mode', mode, 'event', mode, " (or 'v8': V8's CpuProfiler, Node only; or 'cpu+alloc', 'wall+alloc', 'v8+alloc': both)");
    core.event = mode;
    if (!('signal' in core)) core.signal = DEFAULT_SIGNAL;
  }
  if (opts.native !== undefined && typeof opts.native !== 'boolean') {
    throw new TypeError(`${where}: native must be true or false`);
  }
  if (mode === 'v8') {
    if (opts.native) {
      throw new PolyprofError(
        "native: true needs signal-based sampling (mode 'cpu' or 'wall'); mode 'v8' records JavaScript frames only",
      );
    }
    core.native = 'false';
  } else {
    core.native = opts.native === false ? 'false' : 'true';
  }
  setDuration(where, core, durationSeconds);
  return { mode, core };
}

function setDuration(where, core, durationSeconds) {
  if (durationSeconds !== undefined && durationSeconds !== null) {
    if (!isNumber(durationSeconds) || durationSeconds < 0) {
      throw new PolyprofError(
        `${where}: durationSeconds must be a non-negative number of seconds, not ${JSON.stringify(durationSeconds)}`,
      );
    }
    core.duration = `${durationSeconds}s`;
    checkKey('durationSeconds', durationSeconds, 'duration', core.duration);
  }
}

// 'cpu+alloc', 'wall+alloc', 'v8+alloc' -> the time mode; else null.
function withAllocations(mode) {
  const parts = mode.split('+').map((p) => p.trim());
  if (parts.length !== 2 || !parts.includes('alloc')) return null;
  const time = parts.find((p) => p !== 'alloc');
  return time && MODES.includes(time) ? time : null;
}

// Mode 'alloc': allocInterval (bytes, or a size such as '512k') is the core's
// alloc_interval; intervalMs means nothing here and native frames are not
// recorded (V8 reports JavaScript frames only).
function allocOptions(opts, where, core, durationSeconds) {
  delete core.interval;
  core.event = 'alloc';
  if (opts.native) {
    throw new PolyprofError(
      "native: true needs signal-based sampling (mode 'cpu' or 'wall'); mode 'alloc' records JavaScript frames only",
    );
  }
  setAllocInterval(where, core, opts.allocInterval);
  setDuration(where, core, durationSeconds);
  return { mode: 'alloc', core };
}

// allocInterval (bytes, or a size such as '512k') -> the core's alloc_interval.
function setAllocInterval(where, core, allocInterval) {
  if (allocInterval === undefined || allocInterval === null) return;
  if (!(typeof allocInterval === 'string' || (isNumber(allocInterval) && Number.isInteger(allocInterval)))) {
    throw new TypeError(
      `${where}: allocInterval must be a number of bytes or a size such as '512k', not ${JSON.stringify(allocInterval)}`,
    );
  }
  core.alloc_interval = String(allocInterval);
  checkKey('allocInterval', allocInterval, 'alloc_interval', core.alloc_interval);
}

// Core keys -> what a session needs; `spec` is the core's canonical option line.
function resolve(core) {
  const o = native.parseOptions(core);
  return {
    intervalUs: Math.max(1, Math.round(o.intervalNs / 1000)),
    durationUs: Math.round(o.durationNs / 1000),
    spec: o.spec,
  };
}

// The options line of a V8 session's metadata, in the core's grammar.
function v8Spec(intervalUs, durationUs) {
  return `mode=v8,interval=${intervalUs}us,duration=${Math.round(durationUs / 1000)}ms,native=false`;
}

module.exports = {
  PolyprofError,
  fromUserOptions,
  coreKeys,
  setAllocInterval,
  withAllocations,
  resolve,
  v8Spec,
  MODES,
  DEFAULT_MODE,
  DEFAULT_SIGNAL,
};
