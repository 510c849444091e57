'use strict';
// Opt-in auto-start from the environment: `node --require polyprof/auto
// app.js`. ENABLE_PROFILING, PROFILE_INTERVAL_MS, PROFILE_MAX_DURATION,
// POLYPROF_OPTIONS and POLYPROF_STORE are read and clamped by the core, the
// same way in every runtime; when enabled, a ContinuousProfiler writes one
// profile per window to the local store until the program exits.
// With POLYPROF_OPTIONS=endpoint=ADDR it also serves the local HTTP endpoint
// (whether or not ENABLE_PROFILING is on: it samples only when asked).
//
// The program always starts: a bad configuration leaves profiling off and
// says why on stderr.
const { isMainThread } = require('worker_threads');

const state = { profiler: null, error: null, endpoint: null, endpointError: null };

function say(message) {
  process.stderr.write(`polyprof: ${message}\n`);
}

function start() {
  let native, ContinuousProfiler;
  try {
    native = require('./native');
    ({ ContinuousProfiler } = require('./continuous'));
  } catch (e) {
    state.error = e.message;
    say(`profiling stays off: ${e.message}`);
    return;
  }
  // Workers only register their isolates (by loading the addon above): the
  // main thread's profiler samples the whole process.
  if (!isMainThread) return;
  let config;
  try {
    config = native.envConfig();
  } catch (e) {
    state.error = e.message;
    say(`profiling stays off: ${e.message}`);
    return;
  }
  for (const w of config.warnings) say(w);
  serve(config.options);
  if (!config.enabled) return;
  const core = { ...config.options };
  // V8's own profiler owns SIGPROF; the default signal in the core is
  // SIGPROF, so the environment's value counts only when given.
  if (!/\bsignal=/.test(process.env.POLYPROF_OPTIONS || '')) core.signal = 'SIGVTALRM';
  try {
    state.profiler = ContinuousProfiler._fromCoreOptions(core).start();
  } catch (e) {
    state.error = e.message;
    say(`profiling stays off: ${e.message}`);
    return;
  }
  process.on('exit', () => state.profiler && state.profiler.stop());
}

// POLYPROF_OPTIONS=endpoint=...: the local endpoint, with the production
// CPU budget unless the options give one.
function serve(options) {
  if (!options.endpoint) return;
  try {
    const core = { cpu_budget: '1%', ...options };
    if (!/\bsignal=/.test(process.env.POLYPROF_OPTIONS || '')) core.signal = 'SIGVTALRM';
    state.endpoint = require('./http_endpoint').serveCore(core);
  } catch (e) {
    state.endpointError = e.message;
    say(`the endpoint stays off: ${e.message}`);
    return;
  }
  say(`serving profiles on ${state.endpoint.address} (/debug/pprof/, /polyprof/status)`);
}

start();

module.exports = state;
