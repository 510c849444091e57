#!/usr/bin/env node
'use strict';
/**
 * What starting and stopping a profile costs in Node, first and later
 * sessions of one process, against @datadog/pprof's time profiler when it is
 * installed (npm install in bench/node).
 *
 *   node bench/node/start_cost.js [--reps N] [--sessions K] [--polyprof DIR]... [--json FILE]
 *
 * --polyprof DIR (repeatable) loads polyprof from DIR, a built checkout (by
 * default this repository); each one is a configuration of its own, so two
 * builds are compared in the same run.
 * Each repetition runs one fresh child per configuration (polyprof cpu mode,
 * polyprof wall mode, @datadog/pprof time), in a shuffled order. A child
 * loads its profiler (require: timed apart), warms up a little code (so V8
 * has code to enumerate), then runs K sessions of start, 20 ms of work,
 * stop and serialize to pprof. Per session it measures the CPU of start()
 * and of stop()+serialize (process.cpuUsage(), user+sys, every thread of the
 * process), the calling thread's own CPU for both (its schedstat: what the
 * call itself costs, without the profiler's background threads that run
 * meanwhile) and wall time. Reported: medians over repetitions of the first
 * session and of the later ones.
 *
 * No pass/fail: the script reports.
 */
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const args = process.argv.slice(2);
function opt(name, dflt) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : dflt;
}

function cpuMs(since) {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}

// CPU ms of the calling thread alone (Node 20 has no per-thread cpuUsage).
function threadCpuMs() {
  return Number(require('node:fs').readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]) / 1e6;
}

function work(ms) {
  const until = Date.now() + ms;
  let x = 0;
  while (Date.now() < until) x += JSON.stringify({ a: x, b: [1, 2, 3] }).length;
  return x;
}

async function child(config, sessions, dir) {
  let t = process.cpuUsage();
  let profiler;
  config = config.split('@')[0];
  if (config.startsWith('polyprof')) profiler = require(dir);
  else profiler = require('@datadog/pprof');
  const requireMs = cpuMs(t);
  work(50);
  const out = { requireMs, start: [], stop: [], startWall: [], startThread: [], stopThread: [] };
  for (let i = 0; i < sessions; i++) {
    let wall = process.hrtime.bigint();
    t = process.cpuUsage();
    let th = threadCpuMs();
    let session;
    if (config === 'polyprof-cpu') session = profiler.start({ mode: 'cpu', intervalMs: 10 });
    else if (config === 'polyprof-wall') session = profiler.start({ mode: 'wall', intervalMs: 10 });
    else profiler.time.start({ intervalMicros: 10000 });
    out.start.push(cpuMs(t));
    out.startThread.push(threadCpuMs() - th);
    out.startWall.push(Number(process.hrtime.bigint() - wall) / 1e6);
    work(20);
    t = process.cpuUsage();
    th = threadCpuMs();
    if (config.startsWith('polyprof')) {
      const prof = session.stop();
      prof.toBuffer('pprof');
    } else {
      const prof = profiler.time.stop();
      await profiler.encode(prof);
    }
    out.stop.push(cpuMs(t));
    out.stopThread.push(threadCpuMs() - th);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

function main() {
  if (args[0] === '--child') return child(args[1], Number(args[2]), args[3]);
  const reps = Number(opt('--reps', '9'));
  const sessions = Number(opt('--sessions', '3'));
  const dirs = args.flatMap((a, i) => (a === '--polyprof' ? [path.resolve(args[i + 1])] : []));
  if (!dirs.length) dirs.push(path.resolve(__dirname, '..', '..'));
  const configs = [];
  const dirOf = {};
  for (const d of dirs)
    for (const mode of ['polyprof-cpu', 'polyprof-wall']) {
      const name = dirs.length > 1 ? `${mode}@${d}` : mode;
      configs.push(name);
      dirOf[name] = d;
    }
  try {
    require.resolve('@datadog/pprof', { paths: [__dirname] });
    configs.push('datadog-time');
  } catch {
    process.stderr.write('@datadog/pprof not installed in bench/node: measuring polyprof only\n');
  }
  const got = Object.fromEntries(configs.map((c) => [c, []]));
  for (let r = 0; r < reps; r++) {
    const order = [...configs].sort(() => Math.random() - 0.5);
    for (const c of order) {
      const p = spawnSync(process.execPath, [__filename, '--child', c, String(sessions), dirOf[c] || ''], {
        cwd: __dirname,
        encoding: 'utf8',
      });
      if (p.status !== 0) throw new Error(`${c} failed: ${p.stderr}`);
      got[c].push(JSON.parse(p.stdout));
    }
  }
  const result = {};
  console.log(`${reps} repetitions, ${sessions} sessions per process; CPU ms (user+sys, whole process), medians`);
  for (const c of configs) {
    const runs = got[c];
    result[c] = {
      require_ms: median(runs.map((x) => x.requireMs)),
      first_start_ms: median(runs.map((x) => x.start[0])),
      later_start_ms: median(runs.flatMap((x) => x.start.slice(1))),
      first_start_wall_ms: median(runs.map((x) => x.startWall[0])),
      first_stop_ms: median(runs.map((x) => x.stop[0])),
      later_stop_ms: median(runs.flatMap((x) => x.stop.slice(1))),
      first_start_thread_ms: median(runs.map((x) => x.startThread[0])),
      later_start_thread_ms: median(runs.flatMap((x) => x.startThread.slice(1))),
      first_stop_thread_ms: median(runs.map((x) => x.stopThread[0])),
      later_stop_thread_ms: median(runs.flatMap((x) => x.stopThread.slice(1))),
    };
    const m = result[c];
    console.log(
      `  ${c.padEnd(14)}\n      require ${m.require_ms.toFixed(1)}  start: first ${m.first_start_ms.toFixed(1)} ` +
        `(wall ${m.first_start_wall_ms.toFixed(1)}), later ${m.later_start_ms.toFixed(1)}  ` +
        `stop+pprof: first ${m.first_stop_ms.toFixed(1)}, later ${m.later_stop_ms.toFixed(1)}\n` +
        `      calling thread only: start: first ${m.first_start_thread_ms.toFixed(1)}, ` +
        `later ${m.later_start_thread_ms.toFixed(1)}  stop+pprof: first ${m.first_stop_thread_ms.toFixed(1)}, ` +
        `later ${m.later_stop_thread_ms.toFixed(1)}`,
    );
  }
  const json = opt('--json', null);
  if (json) require('node:fs').writeFileSync(json, JSON.stringify({ result, raw: got }, null, 2));
}

main();
