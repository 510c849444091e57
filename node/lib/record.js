'use strict';
// Preloaded by `polyprof record` (node --require .../record.js app.js):
// profiles the program from its first line and writes the profile when the
// program exits, when its duration is over, or on SIGINT/SIGTERM when the
// program has no handler of its own. Settings come in POLYPROF_RECORD (JSON:
// output, format, core options) from cli.js.
const fs = require('fs');
const path = require('path');
const { isMainThread } = require('worker_threads');

// The program's entry file when it runs as CommonJS (loaded through
// require.cache, which all modules share), else null: ESM stacks stay whole.
function commonJsEntry() {
  try {
    const file = fs.realpathSync(process.argv[1]);
    return require.cache[file] ? file : null;
  } catch {
    return null;
  }
}

function startRecording() {
  if (!isMainThread) {
    // Preload modules also run in worker threads: a worker of the recorded
    // process registers its isolate, so the main thread's signal-based
    // session records its JavaScript frames too (mode 'v8' profiles the main
    // thread only).
    if (process.env.POLYPROF_RECORDING_PID === String(process.pid)) {
      try {
        require('./native');
      } catch (e) {
        process.stderr.write(`polyprof: worker not profiled: ${e.message}\n`);
      }
    }
    return;
  }
  const raw = process.env.POLYPROF_RECORD;
  if (!raw) return;
  process.env.POLYPROF_RECORDING_PID = String(process.pid);
  // Children started with this process's execArgv (child_process.fork,
  // cluster) preload this file too: without settings they do nothing, so
  // they never overwrite the parent's profile.
  delete process.env.POLYPROF_RECORD;
  let settings, session, Profile;
  const outputs = []; // [session, output]: the time or allocation profile, and with --mode cpu+alloc both
  try {
    settings = JSON.parse(raw);
    ({ Profile } = require('./profile'));
    const { Session } = require('./session');
    session = new Session(settings.options);
    outputs.push([session, settings.output]);
    if (settings.alloc) {
      const { output, ...allocOptions } = settings.alloc;
      outputs.push([new Session(allocOptions), output]);
    }
  } catch (e) {
    for (const [started] of outputs) started.stop();
    // The program runs anyway, unprofiled: say so, never break it.
    process.stderr.write(`polyprof: could not start profiling: ${e.message}\n`);
    return;
  }
  let written = false;
  function write() {
    if (written) return;
    written = true;
    for (const [s, output] of outputs) writeOne(s, output);
  }
  function writeOne(s, output) {
    try {
      let prof = new Profile(s.stop());
      const entry = commonJsEntry();
      if (entry) {
        // Stacks through the program's top level start there, not in Node's
        // module loader (as the Python bridge roots them at <module>); the
        // others (event-loop callbacks) stay whole. The addon names the
        // module's wrapper function "(anonymous <file>:1)".
        prof = prof.showFrom(`(anonymous ${path.basename(entry)}:1)`, entry, true);
      }
      prof.write(output, settings.format ?? undefined);
      const md = prof.metadata;
      process.stderr.write(
        `polyprof: wrote ${output} (${md.samples_taken ?? 0} samples, ${prof.durationSeconds.toFixed(1)}s)\n`,
      );
    } catch (e) {
      process.stderr.write(`polyprof: could not write ${output}: ${e.message}\n`);
    }
  }
  process.on('exit', write);
  if (session.settings.durationUs > 0) setTimeout(write, session.settings.durationUs / 1000).unref();
  for (const sig of ['SIGINT', 'SIGTERM']) {
    const onSignal = () => {
      // A program with its own handler decides when to exit; 'exit' writes then.
      if (process.listenerCount(sig) > 1) return;
      write();
      process.removeListener(sig, onSignal);
      process.kill(process.pid, sig); // die of the signal, as without us
    };
    process.on(sig, onSignal);
  }
}

startRecording();
