'use strict';
// Continuous profiling and the local store: thin faces over the core's
// pp_continuous and pp_store (windows, rotation, retention and the exporter
// thread live in C, the same for every runtime).
const path = require('path');
const native = require('./native');
const { PolyprofError, fromUserOptions, withAllocations } = require('./options');
const { Profile } = require('./profile');
const { THREAD_NAME } = require('./session');

function defaultStoreDir() {
  return process.env.POLYPROF_STORE || 'profiles';
}

/**
 * The local store: a directory of gzip pprof files named
 * <service>_<type>_<UTC start>_<trigger>.pb.gz with index.tsv; retention by
 * age and total size, oldest first, on every write. With a key (keyFile,
 * else $POLYPROF_STORE_KEY) files are encrypted (AES-256-GCM, .pb.gz.enc)
 * and read() decrypts them.
 */
class Store {
  constructor(directory = defaultStoreDir(), { maxAgeSeconds = 7 * 86400, maxBytes = 1 << 30, keyFile } = {}) {
    if (typeof directory !== 'string' || !directory) throw new TypeError('Store: directory must be a path');
    if (keyFile !== undefined && (typeof keyFile !== 'string' || !keyFile)) {
      throw new TypeError('Store: keyFile must be a path');
    }
    try {
      native.storeKeyCheck(keyFile); // a bad key fails here, naming its source
    } catch (e) {
      throw new PolyprofError(e.message);
    }
    this.directory = directory;
    this.maxAgeSeconds = maxAgeSeconds;
    this.maxBytes = maxBytes;
    this.keyFile = keyFile;
  }

  /** The stored profile (an entry of list(), a file name or a path), decrypted when encrypted. */
  read(entry) {
    try {
      return new Profile(native.storeRead(this.directory, typeof entry === 'string' ? entry : entry.file, this.keyFile));
    } catch (e) {
      throw new PolyprofError(e.message);
    }
  }

  /** [{file, service, type, trigger, start, bytes}], oldest first. */
  list() {
    try {
      return native.storeList(this.directory);
    } catch (e) {
      throw new PolyprofError(e.message);
    }
  }

  /** Applies retention (as of `now`, Unix seconds); returns how many files went. */
  prune(now) {
    try {
      return native.storePrune(this.directory, this.maxAgeSeconds, this.maxBytes, now);
    } catch (e) {
      throw new PolyprofError(e.message);
    }
  }

  path(entry) {
    return path.join(this.directory, entry.file);
  }
}

// Mode 'alloc' windows (and the allocation side of 'cpu+alloc'): V8's heap
// profiler answers on the JavaScript thread only, so the windows are cut by
// a timer on the event loop (unref'd), not by the core's continuous thread;
// each window is the allocations sampled in it plus what is still alive of
// those sampled since the start, alloc_space its default value. Stored as
// <service>_alloc_<UTC start>_continuous.pb.gz, as Python's, and with push
// queued for Pyroscope by a pusher of their own (the core's queue, uploader
// thread and counters; Pyroscope shows them as memory profiles).
class AllocWindows {
  constructor(core, exporter) {
    this.core = core;
    this.exporter = exporter;
    this.pusher = core.push ? native.pushOpen(core) : null;
    this.pushFinal = null;
    try {
      this.handle = native.allocStart(core, THREAD_NAME);
    } catch (e) {
      if (this.pusher) native.pushStop(this.pusher);
      throw e;
    }
    this.index = 0;
    this.start = Date.now() / 1000;
    const windowMs = native.parseOptions(core).windowNs / 1e6;
    this.timer = setInterval(() => this.cut(), windowMs);
    this.timer.unref(); // never keeps the program alive
  }

  cut() {
    const start = this.start;
    this.start = Date.now() / 1000;
    const md = { trigger: 'continuous', window: this.index++, start, end: this.start, type: 'alloc' };
    const startMs = start * 1000;
    const endMs = this.start * 1000;
    try {
      if (this.exporter) {
        const prof = native.allocRotate(this.handle);
        if (this.pusher) {
          try {
            native.pushProfile(this.pusher, prof, startMs, endMs);
          } catch (e) {
            reportNotPushed(md.window, e);
          }
        }
        this.exporter(prof, md);
      } else if (this.pusher) {
        // Stored and pushed, the same profile (freed once, by the addon).
        try {
          native.allocStoreWindow(this.handle, this.core, this.pusher, startMs, endMs);
        } catch (e) {
          if (e && e.pushError) reportNotPushed(md.window, e);
          else throw e;
        }
      } else {
        native.allocStoreWindow(this.handle, this.core);
      }
    } catch (e) {
      report(e);
    }
  }

  // -> the push counters after the last flush (without waiting: as stop
  // began, the uploads going on in the background for push_flush at most),
  // or null without push.
  stop(waitForPush = true) {
    clearInterval(this.timer);
    try {
      this.cut(); // the last, partial window
      native.allocStop(this.handle);
    } finally {
      if (this.pusher) {
        const pusher = this.pusher;
        this.pusher = null;
        this.pushFinal = native.pushStop(pusher, waitForPush);
      }
    }
    return this.pushFinal;
  }

  pushStats() {
    return this.pusher ? native.pushStats(this.pusher) : this.pushFinal;
  }

  windows() {
    return this.index;
  }
}

// Both kinds' push counters, added up (null when neither pushed).
function addStats(a, b) {
  if (!a || !b) return a ?? b ?? null;
  const sum = {};
  for (const k of Object.keys(a)) sum[k] = a[k] + b[k];
  return sum;
}

// Mode 'cpu+alloc' / 'wall+alloc': the core's CPU (or wall) windows and the
// allocation windows beside them, as Python's. The signal sampler and V8's
// heap profiler are independent (as in start({ mode: 'cpu+alloc' })); both
// kinds are pushed (each side its own pusher, pushStats() adds them up), and
// windows counts the time windows.
class BothWindows {
  constructor(core, allocCore, exporter) {
    this.time = native.continuousStart(core, exporter);
    try {
      this.alloc = new AllocWindows(allocCore, exporter);
    } catch (e) {
      native.continuousStop(this.time);
      throw e;
    }
  }

  // -> both sides' push stats, added up
  stop(waitForPush = true) {
    let stats = null;
    try {
      this.alloc.stop(waitForPush);
    } finally {
      stats = waitForPush ? native.continuousStop(this.time) : native.continuousStop(this.time, false);
    }
    return addStats(stats, this.alloc.pushStats());
  }

  pushStats() {
    return addStats(native.continuousPushStats(this.time), this.alloc.pushStats());
  }

  windows() {
    return native.continuousWindows(this.time);
  }
}

/**
 * Always-on profiling at a low rate: one profile per window, handed to
 * `exporter(profile, metadata)` (metadata: trigger, window, start, end;
 * type: 'alloc' for allocation windows) on the event loop, or written to the
 * local store. Modes 'cpu' and 'wall' sample the whole process (one sampler:
 * other sessions share it and must use the same mode); mode 'alloc' samples
 * this thread's allocations (stored with type "alloc", alloc_space the
 * default value); 'cpu+alloc' / 'wall+alloc' both, as Python's. With push,
 * every window is pushed to Pyroscope, the allocation ones too (memory
 * profiles there: alloc_objects, alloc_space, inuse_*).
 */
class ContinuousProfiler {
  constructor({
    intervalMs = 100,
    windowSeconds = 60,
    exporter,
    store,
    mode = 'cpu',
    native: withNative = mode !== 'alloc',
    allocInterval,
    service,
    push,
  } = {}) {
    if (exporter !== undefined && exporter !== null && typeof exporter !== 'function') {
      throw new TypeError('exporter must be a function (profile, metadata) => {}');
    }
    if (mode === 'v8' || (typeof mode === 'string' && withAllocations(mode) === 'v8')) {
      throw new PolyprofError(
        "ContinuousProfiler samples with signals or V8's heap profiler: mode 'cpu', 'wall', 'alloc', 'cpu+alloc' or 'wall+alloc'",
      );
    }
    const { core, allocCore } = fromUserOptions({ intervalMs, mode, native: withNative, allocInterval }, 'ContinuousProfiler', undefined, {
      combined: true,
    });
    if (typeof windowSeconds !== 'number' || !Number.isFinite(windowSeconds)) {
      throw new TypeError(`ContinuousProfiler: windowSeconds must be a number, not ${JSON.stringify(windowSeconds)}`);
    }
    // The keys both sides of 'cpu+alloc' share: windows, budget, store.
    const shared = { window: `${windowSeconds}s`, cpu_budget: '1%' }; // production default: at most 1% of the process's CPU
    if (service !== undefined) shared.service = service;
    shared.store = store instanceof Store ? store.directory : store ?? defaultStoreDir();
    if (store instanceof Store && store.keyFile) shared.store_key_file = store.keyFile;
    Object.assign(core, shared);
    if (allocCore) Object.assign(allocCore, shared);
    if (push !== undefined && push !== null) {
      // The allocation windows, cut on the event loop, get a pusher of their
      // own with the same keys (AllocWindows).
      const keys = pushOptions(push);
      Object.assign(core, keys);
      if (allocCore) Object.assign(allocCore, keys);
    }
    try {
      native.parseOptions(core); // every key checked by the core, messages naming it
      if (allocCore) native.parseOptions(allocCore);
    } catch (e) {
      throw new PolyprofError(`ContinuousProfiler: ${e.message}`);
    }
    this._core = core;
    this._allocCore = allocCore ?? null;
    this._exporter = exporter ?? null;
    this._handle = null;
    this._pushFinal = null;
  }

  static _fromCoreOptions(core, exporter = null) {
    const p = Object.create(ContinuousProfiler.prototype);
    p._core = { ...core };
    p._allocCore = null;
    p._exporter = exporter;
    p._handle = null;
    p._pushFinal = null;
    return p;
  }

  start() {
    if (this._handle) throw new PolyprofError('this ContinuousProfiler is already running');
    let exporter;
    if (this._exporter) {
      const user = this._exporter;
      // An exporter that fails is reported; the windows go on.
      exporter = (prof, md) => {
        try {
          const r = user(new Profile(prof), md);
          if (r && typeof r.catch === 'function') r.catch((e) => report(e));
        } catch (e) {
          report(e);
        }
      };
    }
    try {
      if (this._core.event === 'alloc') {
        this._handle = new AllocWindows(this._core, exporter ?? null);
      } else if (this._allocCore) {
        this._handle = new BothWindows(this._core, this._allocCore, exporter);
      } else {
        this._handle = native.continuousStart(this._core, exporter);
      }
    } catch (e) {
      throw new PolyprofError(e.message);
    }
    return this;
  }

  /** Hands over the last, partial window (to the exporter before it returns) and stops. */
  stop() {
    const h = this._handle;
    this._handle = null;
    if (h instanceof AllocWindows || h instanceof BothWindows) this._pushFinal = h.stop();
    else if (h) this._pushFinal = native.continuousStop(h);
  }

  // stop() for a tripped breaker: windows still queued for Pyroscope are
  // pushed in the background (for push_flush at most).
  _stopOnRequestPath() {
    const h = this._handle;
    if (!h) return this.stop();
    this._handle = null;
    this._pushFinal = h instanceof AllocWindows || h instanceof BothWindows ? h.stop(false) : native.continuousStop(h, false);
  }

  /**
   * Pushing to Pyroscope: {pushed, failedAttempts, droppedQueueFull,
   * droppedRejected, queued} (after stop(): as the last flush left them), or
   * null without push. With 'cpu+alloc' / 'wall+alloc': both kinds of
   * windows' counters, added up.
   */
  pushStats() {
    if (this._handle instanceof AllocWindows || this._handle instanceof BothWindows) return this._handle.pushStats();
    return this._handle ? native.continuousPushStats(this._handle) : this._pushFinal;
  }

  get running() {
    return this._handle !== null;
  }

  /** Windows exported so far (with 'cpu+alloc': the time windows). */
  get windows() {
    if (this._handle instanceof AllocWindows || this._handle instanceof BothWindows) return this._handle.windows();
    return this._handle ? native.continuousWindows(this._handle) : 0;
  }
}

const PUSH_KEYS = {
  url: 'push', app: 'push_app', tenant: 'push_tenant', queue: 'push_queue', caFile: 'push_ca_file',
  tokenFile: 'push_token_file', basicAuthFile: 'push_basic_auth_file',
};

// push: the Pyroscope server's URL, or {url, app, tags, tenant, queue,
// timeoutMs, flushMs, caFile, tokenFile, basicAuthFile} -> the core's push*
// keys (checked by the core). Credentials come from POLYPROF_PUSH_TOKEN /
// POLYPROF_PUSH_BASIC_AUTH or the *File keys, never from here.
function pushOptions(push) {
  if (typeof push === 'string') push = { url: push };
  if (typeof push !== 'object') throw new TypeError(`ContinuousProfiler: push must be a URL or an object, not ${JSON.stringify(push)}`);
  const core = {};
  for (const [key, value] of Object.entries(push)) {
    if (value === undefined) continue;
    if (key === 'tags') {
      if (typeof value !== 'object' || value === null) throw new TypeError('ContinuousProfiler: push.tags must be an object of label names to values');
      core.push_tags = Object.entries(value).map(([k, v]) => `${k}=${v}`).join(';');
    } else if (key === 'timeoutMs' || key === 'flushMs') {
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`ContinuousProfiler: push.${key} must be a number of milliseconds`);
      core[key === 'timeoutMs' ? 'push_timeout' : 'push_flush'] = `${value}ms`;
    } else if (key in PUSH_KEYS) {
      core[PUSH_KEYS[key]] = String(value);
    } else {
      throw new TypeError(`ContinuousProfiler: push: unknown key '${key}' (known: url, tags, timeoutMs, flushMs, ${Object.keys(PUSH_KEYS).filter((k) => k !== 'url').join(', ')})`);
    }
  }
  if (!core.push) throw new PolyprofError("ContinuousProfiler: push needs 'url', the Pyroscope server's URL");
  return core;
}

function reportNotPushed(window, e) {
  process.stderr.write(`polyprof: allocation window ${window} not pushed: ${e && e.message ? e.message : e}\n`);
}

function report(e) {
  process.stderr.write(`polyprof: continuous profiling exporter failed: ${e && e.stack ? e.stack : e}\n`);
}

module.exports = { ContinuousProfiler, Store };
