'use strict';
// profileEndpoint: the sampling version of "profile this handler for a while".
//
// From the wrapped handler's first call, for at most durationSeconds, the
// samples taken while the handler is on the JavaScript stack are kept
// (labelled endpoint=<name>; matched by V8's identity of the function, so an
// async handler counts while it runs, not while it awaits). Then the top
// functions by cumulative time, rooted at the handler, go to stderr or to
// `output` (a function, a stream or a path), and the wrapper costs one
// comparison per call from then on. Same semantics as Python's profile_endpoint.
const fs = require('fs');
const native = require('./native');
const { PolyprofError, fromUserOptions } = require('./options');
const { Profile } = require('./profile');
const { Session } = require('./session');

const running = new Set();
let exitHookInstalled = false;

function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A window still open when the program ends reports what it has.
  process.on('exit', () => {
    for (const ep of [...running]) ep.finish();
  });
}

class Endpoint {
  constructor(fn, opts) {
    if (opts !== undefined && opts !== null && typeof opts !== 'object') {
      throw new TypeError('profileEndpoint(handler, options): options must be an object');
    }
    const known = ['durationSeconds', 'output', 'top', 'intervalMs'];
    for (const k of Object.keys(opts ?? {})) {
      if (!known.includes(k)) throw new PolyprofError(`profileEndpoint: unknown option '${k}' (known: ${known.join(', ')})`);
    }
    const { durationSeconds = 10, output, top = 20, intervalMs } = opts ?? {};
    if (typeof durationSeconds !== 'number' || !Number.isFinite(durationSeconds) || durationSeconds <= 0) {
      throw new PolyprofError(
        `profileEndpoint: durationSeconds must be a positive number, not ${JSON.stringify(durationSeconds)}`,
      );
    }
    if (!Number.isInteger(top) || top <= 0) {
      throw new PolyprofError(`profileEndpoint: top must be a positive whole number, not ${JSON.stringify(top)}`);
    }
    const isStream = output !== null && typeof output === 'object' && typeof output.write === 'function';
    if (output !== undefined && output !== null && typeof output !== 'string' && typeof output !== 'function' && !isStream) {
      throw new TypeError('profileEndpoint: output must be a path, a writable stream or a function taking the text');
    }
    // V8's profiler knows the handler by identity (script, line, column), which
    // anonymous handlers need.
    const { core } = fromUserOptions({ intervalMs, durationSeconds, mode: 'v8' }, 'profileEndpoint');
    const loc = native.functionLocation(fn);
    if (!loc) throw new TypeError('profileEndpoint needs a JavaScript function, not a native or built-in one');
    this.fn = fn;
    this.loc = loc;
    this.name = `${loc.name || '(anonymous)'} (${loc.file}:${loc.line})`;
    this.core = core;
    this.duration = durationSeconds;
    this.output = output;
    this.top = top;
    this.state = 'idle'; // idle -> running -> done
    this.session = null;
    this.timer = null;
    this.profile = null; // the kept samples, whole stacks, labelled endpoint=<name>
    this.inside = null; // the same, rooted at the handler: what the report shows
  }

  onCall() {
    if (this.state !== 'idle') return;
    this.state = 'running';
    try {
      this.session = new Session(this.core);
    } catch (e) {
      // Never break the endpoint itself because profiling could not start.
      this.state = 'done';
      this.emit(`polyprof: profiling ${this.name} could not start: ${e.message}\n`);
      return;
    }
    this.timer = setTimeout(() => this.finish(), this.duration * 1000);
    this.timer.unref();
    running.add(this);
    installExitHook();
  }

  finish() {
    if (this.state !== 'running') return;
    this.state = 'done';
    running.delete(this);
    clearTimeout(this.timer);
    const { scriptId, line, column } = this.loc;
    let text;
    try {
      const r = this.session.stop({ scriptId, line, column, value: this.name });
      this.profile = new Profile(r.profile);
      this.inside = new Profile(r.inside);
      text =
        `polyprof: ${this.name}, ${this.profile.durationSeconds.toFixed(1)}s from its first call, ` +
        `top ${this.top} functions by cumulative time\n${this.inside.report(this.top)}`;
    } catch (e) {
      // Runs from a timer or at exit: it must never throw into the application.
      text = `polyprof: profiling ${this.name} failed: ${e.message}\n`;
    }
    this.session = null;
    this.emit(text);
  }

  emit(text) {
    const out = this.output;
    try {
      if (out === undefined || out === null) process.stderr.write(text);
      else if (typeof out === 'string') fs.appendFileSync(out, text);
      else if (typeof out === 'function') out(text);
      else out.write(text);
    } catch (e) {
      // The report must never throw into the application.
      process.stderr.write(`polyprof: could not write the report of ${this.name}: ${e.message}\n${text}`);
    }
  }
}

/**
 * Wraps handler (plain, async, or Express-style (req, res, next)) so that it
 * is profiled from its first call for durationSeconds (default 10), then
 * reports the top (default 20) functions under it. The wrapper keeps `this`,
 * the arguments, the return value and handler.length (Express tells error
 * handlers by their four parameters).
 */
function profileEndpoint(handler, opts) {
  if (typeof handler !== 'function') throw new TypeError('profileEndpoint(handler, options): handler must be a function');
  const ep = new Endpoint(handler, opts);
  function polyprofEndpoint(...args) {
    if (ep.state === 'idle') ep.onCall();
    return handler.apply(this, args);
  }
  Object.defineProperty(polyprofEndpoint, 'length', { value: handler.length });
  Object.defineProperty(polyprofEndpoint, 'name', { value: handler.name });
  Object.defineProperty(polyprofEndpoint, 'polyprofEndpoint', { value: ep });
  return polyprofEndpoint;
}

module.exports = { profileEndpoint, Endpoint };
