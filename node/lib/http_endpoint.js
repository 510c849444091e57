'use strict';
// The local profiling endpoint: the core's HTTP server (libmicrohttpd, on
// threads of its own) in Go's net/http/pprof conventions, so
// `go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10`
// works against a Node process, as against Python's polyprof.serve().
// /debug/pprof/allocs and /heap come from this thread's heap: the endpoint
// keeps an allocation profile running from its start (V8's sampling heap
// profiler, one sample per allocInterval bytes). It answers while the event
// loop is stuck: see endpoint_server.cc.
const native = require('./native');
const { PolyprofError, coreKeys, setAllocInterval, DEFAULT_SIGNAL } = require('./options');
const { THREAD_NAME } = require('./session');

let serving = null; // the Endpoint this process serves (one per process)

class Endpoint {
  constructor(handle, address) {
    this._handle = handle;
    /** "127.0.0.1:6060", "[::1]:6060" or "unix:/path": the bound address. */
    this.address = address;
    const m = /:(\d+)$/.exec(address);
    /** The bound port (the real one when port 0 was asked for); 0 for a unix socket. */
    this.port = m && !address.startsWith('unix:') ? Number(m[1]) : 0;
  }

  /** http://host:port, or null for a unix socket. */
  get url() {
    return this.address.startsWith('unix:') ? null : `http://${this.address}`;
  }

  /** Stops serving (a capture in progress gets what was sampled). */
  stop() {
    const h = this._handle;
    this._handle = null;
    if (serving === this) serving = null;
    if (h) native.endpointStop(h);
  }

  /** The same as stop(). */
  close() {
    this.stop();
  }

  get running() {
    return this._handle !== null;
  }
}

// The production configuration's maximum capture (PROFILE_MAX_DURATION) and
// store: the endpoint's captures obey them too.
function environmentLimits() {
  try {
    const { options } = native.envConfig();
    const out = {};
    for (const k of ['duration', 'store', 'service']) if (k in options) out[k] = options[k];
    return out;
  } catch {
    return {};
  }
}

/**
 * Serves the endpoint on `endpoint`: "127.0.0.1:6060" (default), ":0" (a
 * free loopback port: see .port), a port number, or a unix socket path. A
 * non-loopback address needs remote: true and a token (tokenFile, or
 * $POLYPROF_ENDPOINT_TOKEN). heap: false leaves /debug/pprof/allocs and
 * /heap out (404) and V8's heap profiler off. One endpoint per process.
 * serve(endpoint, options) is serve({ endpoint, ...options }).
 */
function serve(opts, more) {
  const where = 'polyprof.serve()';
  if (typeof opts === 'string' || typeof opts === 'number') {
    if (more !== undefined && more !== null && typeof more !== 'object') {
      throw new TypeError(`${where}: options must be an object`);
    }
    opts = { ...more, endpoint: opts };
  }
  if (opts === undefined || opts === null) opts = {};
  if (typeof opts !== 'object') throw new TypeError(`${where}: options must be an object`);
  const { endpoint = '127.0.0.1:6060', remote = false, tokenFile, heap = true, allocInterval, options } = opts;
  const known = ['endpoint', 'remote', 'tokenFile', 'heap', 'allocInterval', 'options'];
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) throw new PolyprofError(`${where}: unknown option '${k}' (known: ${known.join(', ')})`);
  }
  if (typeof endpoint !== 'string' && !Number.isInteger(endpoint)) {
    throw new TypeError(`${where}: endpoint must be an address such as '127.0.0.1:6060', a port or a socket path`);
  }
  if (typeof remote !== 'boolean' || typeof heap !== 'boolean') {
    throw new TypeError(`${where}: remote and heap must be true or false`);
  }
  const core = { ...environmentLimits(), ...coreKeys(where, options) };
  setAllocInterval(where, core, allocInterval);
  core.endpoint = String(endpoint);
  core.endpoint_remote = String(remote);
  if (tokenFile !== undefined) core.endpoint_token_file = tokenFile;
  try {
    return serveCore(core, heap);
  } catch (e) {
    throw new PolyprofError(`${where}: ${e.message}`);
  }
}

// Serves with options in the core's keys (endpoint=... among them); also
// polyprof/auto's entry point for POLYPROF_OPTIONS=endpoint=....
function serveCore(core, heap = true) {
  core = { ...core };
  if (!('signal' in core)) core.signal = DEFAULT_SIGNAL;
  // The endpoint's CPU captures sample time; allocations come from the heap hook.
  if (core.event === 'alloc') delete core.event;
  const [handle, bound] = native.endpointStart(core, heap, THREAD_NAME);
  serving = new Endpoint(handle, bound);
  return serving;
}

module.exports = { serve, serveCore, serving: () => serving, Endpoint };
