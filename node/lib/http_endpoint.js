'use strict';
// The local profiling endpoint: the core's HTTP server (libmicrohttpd, on
// threads of its own) in Go's net/http/pprof conventions, so
// `go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10`
// works against a Node process. /debug/pprof/allocs and /heap come from this
// thread's heap: the endpoint keeps an allocation profile running from its
// start (V8's sampling heap profiler, one sample per allocInterval bytes).
const native = require('./native');
const { PolyprofError, coreKeys, setAllocInterval, DEFAULT_SIGNAL } = require('./options');

class Endpoint {
  constructor(handle, address) {
    this._handle = handle;
    /** "127.0.0.1:6060", "[::1]:6060" or "unix:/path": the bound address. */
    this.address = address;
    const m = /:(\d+)$/.exec(address);
    /** The bound port (the real one when asked for port 0); 0 for a unix socket. */
    this.port = m && !address.startsWith('unix:') ? Number(m[1]) : 0;
  }

  /** Stops serving (a capture in progress gets what was sampled). */
  stop() {
    const h = this._handle;
    this._handle = null;
    if (h) native.endpointStop(h);
  }

  get running() {
    return this._handle !== null;
  }
}

/**
 * Serves the endpoint on `address` (default 127.0.0.1:6060; port 0 picks a
 * free one). A non-loopback address needs remote: true and a token
 * (tokenFile, or $POLYPROF_ENDPOINT_TOKEN). heap: false leaves
 * /debug/pprof/allocs and /heap out (404) and V8's heap profiler off.
 */
function startEndpoint(opts) {
  const where = 'polyprof.startEndpoint()';
  if (opts === undefined || opts === null) opts = {};
  if (typeof opts !== 'object') throw new TypeError(`${where}: options must be an object`);
  const { address = '127.0.0.1:6060', remote = false, tokenFile, heap = true, allocInterval, options } = opts;
  const known = ['address', 'remote', 'tokenFile', 'heap', 'allocInterval', 'options'];
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) throw new PolyprofError(`${where}: unknown option '${k}' (known: ${known.join(', ')})`);
  }
  if (typeof address !== 'string') throw new TypeError(`${where}: address must be a string such as '127.0.0.1:6060'`);
  if (typeof remote !== 'boolean' || typeof heap !== 'boolean') {
    throw new TypeError(`${where}: remote and heap must be true or false`);
  }
  const core = coreKeys(where, options);
  setAllocInterval(where, core, allocInterval);
  if (!('signal' in core)) core.signal = DEFAULT_SIGNAL;
  core.endpoint = address;
  core.endpoint_remote = String(remote);
  if (tokenFile !== undefined) core.endpoint_token_file = tokenFile;
  let handle, bound;
  try {
    [handle, bound] = native.endpointStart(core, heap);
  } catch (e) {
    throw new PolyprofError(`${where}: ${e.message}`);
  }
  return new Endpoint(handle, bound);
}

module.exports = { startEndpoint, Endpoint };
