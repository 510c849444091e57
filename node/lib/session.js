'use strict';
// start()/stop() and profile() over two kinds of session:
//  - modes 'cpu' and 'wall': the core's signal-based sampler. It samples the
//    whole process: every thread, with native frames, and the JavaScript
//    frames of every isolate that has loaded polyprof (the main thread, and
//    workers that require('polyprof') or run under `polyprof record`).
//  - mode 'v8': V8's CpuProfiler on the isolate that started it.
const fs = require('fs');
const path = require('path');
const { isMainThread, threadId } = require('worker_threads');
const native = require('./native');
const { PolyprofError, fromUserOptions, resolve, v8Spec } = require('./options');
const { Profile, formatOf } = require('./profile');

const THREAD_NAME = isMainThread ? 'main' : `worker ${threadId}`;

class V8Session {
  /** @param {object} core options in the core's keys (validated again by the core) */
  constructor(core) {
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

  /** Stops the V8 profile once when its duration is over, keeping the result for stop(). */
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

/** A session of the kind the options ask for (`new Session(core)` works too). */
function Session(core) {
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

let userSession = null;

/**
 * Starts profiling. Options: intervalMs (default 10), mode ('cpu' default:
 * CPU time of every thread; 'wall': every thread whether running or
 * waiting; 'v8': V8's CpuProfiler on this thread only), native (native
 * frames, default true; modes cpu and wall), durationSeconds (stop
 * collecting after this long; stop() still returns the profile).
 */
function start(opts) {
  const { core } = fromUserOptions(opts, 'polyprof.start()');
  if (userSession) {
    throw new PolyprofError('polyprof.start() called twice: the profiler is already running; call polyprof.stop() first');
  }
  const s = new Session(core);
  s.stopAfterDuration();
  userSession = s;
}

/** Stops the profiling started by start() and returns its Profile. */
function stop() {
  const s = userSession;
  if (!s) throw new PolyprofError('polyprof.stop() called without polyprof.start()');
  userSession = null;
  return new Profile(s.stop());
}

function isRunning() {
  return userSession !== null;
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
  const { core } = fromUserOptions(rest, 'polyprof.profile()', ['intervalMs', 'mode', 'native']);
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
