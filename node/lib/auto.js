'use strict';
// Opt-in auto-start from the environment: `node --require polyprof/auto
// app.js`. ENABLE_PROFILING, PROFILE_INTERVAL_MS, PROFILE_MAX_DURATION,
// POLYPROF_OPTIONS and POLYPROF_STORE are read and clamped by the core, the
// same way in every runtime; when enabled, a ContinuousProfiler writes one
// profile per window to the local store until the program exits.
//
// The program always starts: a bad configuration leaves profiling off and
// says why on stderr.
const { isMainThread } = require('worker_threads');

const state = { profiler: null, error: null };

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

start();

module.exports = state;
