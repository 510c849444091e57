#!/usr/bin/env node
'use strict';
/**
 * Whose CPU is it? polyprof's mode 'cpu' against @datadog/pprof's time
 * profiler at 100 Hz, each profiler's own CPU attributed by thread and by
 * phase in the profiled process, instead of differencing whole-process totals
 * (which spread by ±15 % per run on a shared 2-core VM).
 *
 *   cd bench/node && npm install --no-package-lock --no-audit --no-fund && cd ../..
 *   node bench/node/overhead_attribution.js [--rounds N] [--scale UNITS] [--polyprof DIR] [--baseline DIR]
 *                                           [--fixed] [--skip-persample] [--skip-jit] [--json FILE]
 *
 * --polyprof DIR loads a built polyprof (e.g. unpacked from `git archive` and
 * built with `npm install`); the default is this repository's own build.
 * --baseline DIR adds a second build, "pp0", to part 1's rounds (none, pp0,
 * pp, dd in turn): before against after in the same rounds, each paired
 * with @datadog/pprof by round.
 *
 * Part 1, attribution (fresh child per run; none, pp-cpu, dd-time alternating,
 * --rounds times; the workload of overhead.js, 1300 units, ~2.45 CPU-s):
 * every thread's CPU (/proc/self/task/TID/schedstat, ns) and comm, and the
 * process' CPU (process.cpuUsage, which keeps exited threads' CPU), at four
 * points: before start(), after start(), after the workload, after stop()
 * and the gzipped pprof export. From these, per run:
 *   start()          process CPU across start() (all threads: V8's CpuProfiler
 *                    logs existing code there, polyprof reads the code map);
 *   stop + export    process CPU across stop() and toBuffer()/encode()
 *                    (includes threads that exit there: V8's ProfEvntProc is
 *                    joined in stop(); encode() gzips in libuv's pool);
 *   own threads      CPU in the workload window of the threads named
 *                    "polyprof" / "polyprof-cfi" / "v8:ProfEvntProc", plus the
 *                    CPU of threads that exited within the window (process
 *                    CPU minus the live threads'; ~0 unprofiled, checked);
 *   handler          polyprof: handler_ns from its profile (measured, wall
 *                    time inside the handler). @datadog/pprof: ESTIMATED as
 *                    samples x 6.9 µs, V8's stack walk (Isolate::GetStackSample,
 *                    measured inside polyprof's handler on this VM), which is
 *                    the bulk of V8's sampler's handler; for reference also
 *                    samples x part 2's main-thread cost per sample.
 *   require()        process CPU across require() (polyprof enumerates V8's
 *                    code there and listens to code events from then on).
 *   main, work       the main thread's CPU in the workload window, against
 *                    the median of the unprofiled runs (noisy: reported, not
 *                    used in the sum).
 * --fixed adds both profilers at 1 s intervals (~2 samples) to the rounds:
 * their threads' CPU at 10 ms less that at 1 s is the part paid per sample.
 *
 * Part 2, main-thread cost per sample (one child per profiler, blocks of 130
 * units alternating unprofiled / profiled in the same process): the main
 * thread's extra CPU per sample, (profiled - unprofiled) / samples.
 * @datadog/pprof at 200 µs (5 kHz), enough to rise above block-to-block
 * noise; polyprof at 4 ms, the most its CPU-time timer gives (it fires on the
 * kernel's tick, 250 Hz here), which is too few samples to: reported only.
 * It includes the kernel's signal delivery and cache disturbance, which
 * handler_ns does not, and at 5 kHz the caches are warmer than at 100 Hz.
 *
 * Part 3, JIT code events (same scheme, 10 ms rate): blocks that compile
 * fresh functions (`new Function`, called 3 times each); the main thread's
 * extra CPU per compiled function while a profiler listens to code events,
 * less the block's samples x the handler's cost per sample. @datadog/pprof
 * listens to code events only while profiling: alternating blocks in one
 * process. polyprof listens from require() on: alternating processes
 * (part 3b), none / pp / dd, the median block of each. One compiled function
 * here is ~3.3 code-creation events (node --log-code).
 *
 * Thread CPU comes from schedstat, whose figure for a running thread is
 * brought up to date only at a tick or a switch; the main thread sleeps 20 µs
 * before each reading so that its own figure is current (settle()).
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { runWorkload, stats, loadAvg } = require('./overhead.js');

const REPO = path.resolve(__dirname, '..', '..');
const OWN_THREADS = /^(polyprof|polyprof-cfi|v8:ProfEvntProc)$/;
const V8_WALK_US = 6.9; // Isolate::GetStackSample per sample, BENCHMARKS.md (10:52 UTC, 2026-12-07)

// ------------------------------------------------------------- profilers --

function profiler(kind, polyprofDir, intervalUs) {
  if (kind === 'pp' || kind === 'pp0') {
    const pp = require(polyprofDir);
    return {
      start: () => pp.start({ mode: 'cpu', intervalMs: intervalUs / 1000 }),
      stop: () => {
        const prof = pp.stop();
        return { samples: prof.metadata.samples_taken, handlerNs: prof.metadata.handler_ns, encode: () => prof.toBuffer() };
      },
    };
  }
  if (kind === 'dd') {
    const { time, encode } = require('@datadog/pprof');
    return {
      start: () => time.start({ intervalMicros: intervalUs, durationMillis: 3600 * 1000 }),
      stop: () => {
        const prof = time.stop();
        return { samples: prof.sample.reduce((s, x) => s + Number(x.value[0]), 0), encode: () => encode(prof) };
      },
    };
  }
  return null;
}

/** The built addon under dir, by content: which build a report measured. */
function addonHash(dir) {
  const f = path.join(dir, 'build', 'Release', 'polyprof.node');
  try {
    return `${crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex').slice(0, 12)} (${fs.statSync(f).mtime.toISOString()})`;
  } catch (e) {
    return `missing (${e.code})`;
  }
}

const NAP = new Int32Array(new SharedArrayBuffer(4));

/**
 * schedstat's sum_exec_runtime of a running thread is brought up to date only
 * at a tick or a switch, so the calling thread's own figure lags by up to a
 * tick (4 ms here); a 20 µs sleep first (a futex wait) brings it up to date.
 */
function settle() {
  Atomics.wait(NAP, 0, 0, 0.02);
}

/** Every thread's {comm, ns on CPU}, and the process' CPU (ns) with exited threads'. */
function snapshot() {
  settle();
  const threads = {};
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      const ns = Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      threads[tid] = { comm: fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim(), ns };
    } catch {
      // the thread exited
    }
  }
  const u = process.cpuUsage();
  return { threads, processNs: (u.user + u.system) * 1e3 };
}

function mainThreadNs() {
  settle();
  return Number(fs.readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);
}

/** A window's CPU split into the main thread, own (profiler) threads, other live threads, exited threads. */
function split(a, b) {
  const out = { processNs: b.processNs - a.processNs, mainNs: 0, ownNs: 0, otherNs: 0, exitedNs: 0, own: {} };
  let live = 0;
  for (const [tid, t] of Object.entries(b.threads)) {
    const d = t.ns - (a.threads[tid] ? a.threads[tid].ns : 0);
    live += d;
    if (Number(tid) === process.pid) out.mainNs += d;
    else if (OWN_THREADS.test(t.comm)) {
      out.ownNs += d;
      out.own[t.comm] = (out.own[t.comm] || 0) + d;
    } else out.otherNs += d;
  }
  // schedstat and cpuUsage disagree by a few µs; a thread that exited in the window shows as the rest
  out.exitedNs = Math.max(0, out.processNs - live);
  out.exitedComms = Object.keys(a.threads).filter((tid) => !b.threads[tid]).map((tid) => a.threads[tid].comm);
  return out;
}

// ---------------------------------------------------------------- children --

async function childAttribution(kind, units, polyprofDir, intervalUs = 10000) {
  const s0 = snapshot();
  const prof = profiler(kind, polyprofDir, intervalUs);
  const s1 = snapshot();
  if (prof) prof.start();
  const s2 = snapshot();
  const checksum = runWorkload(units);
  const s3 = snapshot();
  let res = null;
  let bytes = 0;
  if (prof) {
    res = prof.stop();
    const buf = await res.encode();
    bytes = buf.length;
    if (!bytes) throw new Error(`${kind}: empty pprof`);
  }
  const s4 = snapshot();
  return {
    kind,
    checksum,
    require: split(s0, s1),
    start: split(s1, s2),
    work: split(s2, s3),
    stop: split(s3, s4),
    samples: res ? res.samples : 0,
    handlerNs: res && res.handlerNs !== undefined ? res.handlerNs : null,
    bytes,
  };
}

function compileBlock(seed, count) {
  let s = 0;
  for (let i = 0; i < count; i++) {
    // a fresh source each time: no compilation-cache hit
    const f = new Function('x', `let s = ${seed * count + i}; for (let j = 0; j < 4; j++) s += x * j + ${i % 97}; return s;`);
    s += f(1) + f(2) + f(3);
  }
  return s;
}

/** Blocks alternating unprofiled / profiled in one process; the main thread's CPU of each. */
async function childBlocks(kind, intervalUs, blocks, what, polyprofDir) {
  const prof = profiler(kind, polyprofDir, intervalUs);
  const units = 130;
  const fns = 1500;
  const body = what === 'jit' ? (b) => compileBlock(b, fns) : () => runWorkload(units);
  body(-1); // warm: the workload's code compiled and optimized before the first pair
  const pairs = [];
  let seed = 0;
  for (let b = 0; b < blocks; b++) {
    const pair = {};
    for (const profiled of b % 2 ? [true, false] : [false, true]) {
      if (profiled) prof.start();
      const t0 = mainThreadNs();
      body(seed++);
      const t1 = mainThreadNs();
      if (profiled) {
        const r = prof.stop();
        pair.profNs = t1 - t0;
        pair.samples = r.samples;
        pair.handlerNs = r.handlerNs;
      } else pair.noneNs = t1 - t0;
    }
    pairs.push(pair);
  }
  return { kind, intervalUs, what, fns, pairs };
}

/**
 * Compile-heavy blocks in a process that runs one profiler at 10 ms the whole
 * time (or none): the median main-thread CPU of a block. polyprof listens to
 * code events from its require() on, in and between sessions, so its
 * unprofiled baseline has to be another process.
 */
function childJitProcess(kind, blocks, polyprofDir) {
  const prof = profiler(kind, polyprofDir, 10000);
  const fns = 3000;
  compileBlock(-1, 300);
  if (prof) prof.start();
  const per = [];
  for (let b = 0; b < blocks; b++) {
    const t0 = mainThreadNs();
    compileBlock(b, fns);
    per.push(mainThreadNs() - t0);
  }
  const r = prof ? prof.stop() : { samples: 0 };
  return { kind, fns, blockNs: stats(per).median, samplesPerBlock: r.samples / blocks };
}

// ------------------------------------------------------------------ parent --

function parseArgs(argv) {
  const a = { rounds: 15, scale: 1300, polyprof: REPO, baseline: null, json: null, child: null, persample: true, jit: true, blocks: 24, fixed: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--rounds') a.rounds = Number(v());
    else if (k === '--scale') a.scale = Number(v());
    else if (k === '--polyprof') a.polyprof = path.resolve(v());
    else if (k === '--baseline') a.baseline = path.resolve(v());
    else if (k === '--json') a.json = v();
    else if (k === '--blocks') a.blocks = Number(v());
    else if (k === '--skip-persample') a.persample = false;
    else if (k === '--skip-jit') a.jit = false;
    else if (k === '--fixed') a.fixed = true;
    else if (k === '--child') a.child = JSON.parse(v());
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function runChild(spec, polyprofDir) {
  const r = spawnSync(process.execPath, [__filename, '--child', JSON.stringify(spec), '--polyprof', polyprofDir], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
    cwd: __dirname,
  });
  if (r.status !== 0) throw new Error(`child ${JSON.stringify(spec)} failed (${r.status}, ${r.signal}):\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const ms = (ns) => (ns / 1e6).toFixed(1);
const med = (xs) => stats(xs).median;
const range = (xs, f) => {
  const s = stats(xs);
  return `${f(s.median)} [${f(s.min)}–${f(s.max)}]`;
};

function blockSummary(r, perSampleNs) {
  const deltas = r.pairs.map((p) => p.profNs - p.noneNs);
  const ratio = r.pairs.map((p) => p.profNs / p.noneNs);
  const samples = r.pairs.map((p) => p.samples);
  const out = { deltaNs: stats(deltas), ratio: stats(ratio), samples: stats(samples), noneNs: stats(r.pairs.map((p) => p.noneNs)) };
  if (r.what === 'persample') out.perSampleNs = stats(r.pairs.map((p) => (p.profNs - p.noneNs) / p.samples));
  else out.perFnNs = stats(r.pairs.map((p) => (p.profNs - p.noneNs - (perSampleNs || 0) * p.samples) / r.fns));
  if (r.pairs[0].handlerNs != null) out.handlerPerSampleNs = stats(r.pairs.map((p) => p.handlerNs / p.samples));
  return out;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (a.child) {
    const c = a.child;
    let out;
    if (c.what === 'attr') out = await childAttribution(c.kind, c.units, a.polyprof, c.intervalUs);
    else if (c.what === 'jitx') out = childJitProcess(c.kind, c.blocks, a.polyprof);
    else out = await childBlocks(c.kind, c.intervalUs, c.blocks, c.what, a.polyprof);
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  const t0 = new Date();
  const addon = addonHash(a.polyprof) + (a.baseline ? `, baseline (pp0) ${a.baseline}: polyprof.node ${addonHash(a.baseline)}` : '');
  const loads = [os.loadavg()[0]];
  const dd = require(path.join(__dirname, 'node_modules', '@datadog', 'pprof', 'package.json')).version;
  console.error(`# ${t0.toISOString()} node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), load ${loadAvg()}`);
  console.error(`# polyprof ${a.polyprof} (polyprof.node ${addon}), @datadog/pprof ${dd}`);

  // part 1
  const kinds = ['none', 'pp', 'dd'];
  const ppKinds = a.baseline ? ['pp0', 'pp'] : ['pp'];
  const attrKinds = ['none', ...ppKinds, 'dd'];
  // --fixed: both profilers at 1 s too (~2 samples): what their threads spend whatever the rate
  const configs = a.fixed ? [...attrKinds, 'pp-1s', 'dd-1s'] : attrKinds;
  const runs = Object.fromEntries(configs.map((c) => [c, []]));
  let checksum = null;
  for (let round = 0; round < a.rounds; round++) {
    for (const kind of configs) {
      const r = runChild({ what: 'attr', kind: kind.split('-')[0], units: a.scale, intervalUs: kind.endsWith('-1s') ? 1e6 : 1e4 }, kind === 'pp0' ? a.baseline : a.polyprof);
      if (checksum === null) checksum = r.checksum;
      if (r.checksum !== checksum) throw new Error(`${kind}: checksum ${r.checksum} != ${checksum}`);
      runs[kind].push(r);
      console.error(
        `round ${round} ${kind.padEnd(4)} main work ${ms(r.work.mainNs)} ms, own threads ${ms(r.work.ownNs)} ms ` +
          `(${Object.entries(r.work.own).map(([k, v]) => `${k} ${ms(v)}`).join(', ')}), exited ${ms(r.work.exitedNs)} ms, ` +
          `start ${ms(r.start.processNs)} ms, stop+export ${ms(r.stop.processNs)} ms, samples ${r.samples}` +
          (r.handlerNs != null ? `, handler ${ms(r.handlerNs)} ms` : ''),
      );
    }
    loads.push(os.loadavg()[0]);
  }

  // parts 2 and 3
  const blocks = {};
  if (a.persample) {
    // V8's sampler runs on a wall-clock timer up to 5 kHz and more; polyprof's
    // CPU-time timer fires on the kernel's tick (250 Hz here) at most
    for (const [name, kind, iv] of [['dd @200µs', 'dd', 200], ['pp @4ms', 'pp', 4000]]) {
      blocks[name] = runChild({ what: 'persample', kind, intervalUs: iv, blocks: a.blocks }, a.polyprof);
      loads.push(os.loadavg()[0]);
      console.error(`# per-sample ${name} done, load ${loadAvg()}`);
    }
  }
  const jitx = { none: [], pp: [], dd: [] };
  // part 3b compares the --polyprof build only
  if (a.jit) {
    // @datadog/pprof listens to code events only while it profiles: one process, alternating blocks
    blocks['dd jit'] = runChild({ what: 'jit', kind: 'dd', intervalUs: 10000, blocks: a.blocks }, a.polyprof);
    // polyprof listens from require() on: alternating processes
    for (let round = 0; round < a.rounds; round++) {
      for (const kind of kinds) jitx[kind].push(runChild({ what: 'jitx', kind, blocks: 10 }, a.polyprof));
    }
    loads.push(os.loadavg()[0]);
    console.error(`# jit done, load ${loadAvg()}`);
  }
  const t1 = new Date();

  // ---- report
  const base = {
    main: med(runs.none.map((r) => r.work.mainNs)),
    other: med(runs.none.map((r) => r.work.otherNs)),
    start: med(runs.none.map((r) => r.start.processNs)),
    require: med(runs.none.map((r) => r.require.processNs)),
    stop: med(runs.none.map((r) => r.stop.processNs)),
  };
  const bsum = Object.fromEntries(Object.entries(blocks).map(([k, r]) => [k, blockSummary(r)]));
  // the time inside the handler, per sample: polyprof's own handler_ns; for
  // V8's sampler, ESTIMATED as V8's stack walk (the bulk of its handler)
  const ddWalkNs = V8_WALK_US * 1e3;
  const ppHandlerNs = med(runs.pp.map((r) => r.handlerNs / r.samples));
  const ppLabel = (kind) => (kind === 'pp0' ? 'polyprof cpu, baseline (pp0)' : 'polyprof cpu');
  const ddMeasuredNs = bsum['dd @200µs'] ? bsum['dd @200µs'].perSampleNs.median : null;
  for (const [k, r] of Object.entries(blocks)) if (r.what === 'jit') bsum[k] = blockSummary(r, ddWalkNs);

  const per = {};
  for (const kind of [...ppKinds, 'dd']) {
    per[kind] = runs[kind].map((r) => {
      const start = r.start.processNs - base.start;
      const stop = r.stop.processNs - base.stop;
      const threads = r.work.ownNs + r.work.exitedNs;
      const handler = kind !== 'dd' ? r.handlerNs : r.samples * ddWalkNs;
      const req = r.require.processNs - base.require;
      const total = start + stop + threads + handler;
      return { req, start, stop, threads, handler, handlerMeasured: r.samples * (ddMeasuredNs || 0), total, withRequire: total + req };
    });
  }
  const col = (kind, f) => range(per[kind].map(f), ms);
  const out = [];
  out.push(
    `Node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0].model}), ${t0.toISOString()} – ${t1.toISOString()}, ` +
      `${a.rounds} rounds of ${attrKinds.join(' / ')}, ${a.scale} units; polyprof.node ${addon}; @datadog/pprof ${dd}; ` +
      `1-min load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`,
  );
  out.push('');
  out.push('Each profiler\'s own CPU per 100 Hz profile, ms, median [min–max] over rounds (start and stop+export less the unprofiled runs\' median of the same window):');
  out.push('');
  out.push('| | start() | own threads in the work window | handler | stop + pprof export | sum | require() | sum with require() |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const k of ppKinds)
    out.push(`| ${ppLabel(k)} | ${col(k, (x) => x.start)} | ${col(k, (x) => x.threads)} | ${col(k, (x) => x.handler)} (measured) | ${col(k, (x) => x.stop)} | ${col(k, (x) => x.total)} | ${col(k, (x) => x.req)} | ${col(k, (x) => x.withRequire)} |`);
  out.push(`| @datadog/pprof time | ${col('dd', (x) => x.start)} | ${col('dd', (x) => x.threads)} | ${col('dd', (x) => x.handler)} (estimated: samples × ${V8_WALK_US} µs) | ${col('dd', (x) => x.stop)} | ${col('dd', (x) => x.total)} | ${col('dd', (x) => x.req)} | ${col('dd', (x) => x.withRequire)} |`);
  out.push('');
  const paired = (x, y) =>
    `sum ${range(x.map((p, i) => p.total - y[i].total), ms)}; with require() ${range(x.map((p, i) => p.withRequire - y[i].withRequire), ms)}; own threads ${range(x.map((p, i) => p.threads - y[i].threads), ms)}; ` +
    `start ${range(x.map((p, i) => p.start - y[i].start), ms)}; stop+export ${range(x.map((p, i) => p.stop - y[i].stop), ms)}; ` +
    `handler ${range(x.map((p, i) => p.handler - y[i].handler), ms)}`;
  for (const k of ppKinds) {
    out.push(`Paired by round (${k} − dd), ms, median [min–max]:`);
    out.push(paired(per[k], per.dd));
  }
  if (a.baseline) {
    out.push('Paired by round (pp − pp0), ms, median [min–max]:');
    out.push(paired(per.pp, per.pp0));
  }
  out.push(`polyprof handler_ns per sample ${(ppHandlerNs / 1e3).toFixed(2)} µs.`);
  if (ddMeasuredNs != null) out.push(`@datadog/pprof at part 2's main-thread cost per sample (${(ddMeasuredNs / 1e3).toFixed(1)} µs, with signal delivery) instead: ${col('dd', (x) => x.handlerMeasured)} ms`);
  out.push('');
  out.push('Details, ms, median [min–max]:');
  out.push('');
  out.push('| | samples | own threads by name (work window) | exited in work / stop window | other threads, work window (vs none) | main thread, work window (vs none) | start() raw | stop + export raw | pprof bytes |');
  out.push('|---|---|---|---|---|---|---|---|---|');
  for (const kind of configs) {
    const rs = runs[kind];
    const names = [...new Set(rs.flatMap((r) => Object.keys(r.work.own)))];
    const byName = names.map((n) => `${n} ${range(rs.map((r) => r.work.own[n] || 0), ms)}`).join('; ') || '–';
    const exitedStop = [...new Set(rs.flatMap((r) => r.stop.exitedComms))].join(', ');
    out.push(
      `| ${kind} | ${kind === 'none' ? '–' : range(rs.map((r) => r.samples), String)} | ${byName} | ${range(rs.map((r) => r.work.exitedNs), ms)} / ${range(rs.map((r) => r.stop.exitedNs), ms)}${exitedStop ? ` (${exitedStop})` : ''}` +
        ` | ${range(rs.map((r) => r.work.otherNs), ms)} (${ms(med(rs.map((r) => r.work.otherNs)) - base.other)})` +
        ` | ${range(rs.map((r) => r.work.mainNs), ms)} (${ms(med(rs.map((r) => r.work.mainNs)) - base.main)})` +
        ` | ${range(rs.map((r) => r.start.processNs), ms)} | ${range(rs.map((r) => r.stop.processNs), ms)} | ${kind === 'none' ? '–' : med(rs.map((r) => r.bytes))} |`,
    );
  }
  if (a.fixed) {
    out.push('');
    out.push('Own threads (with exited ones) in the work window at 10 ms against 1 s, paired by round: the part that grows with samples, ms and µs per sample, median [min–max]:');
    out.push('');
    for (const kind of ['pp', 'dd']) {
      const own = (r) => r.work.ownNs + r.work.exitedNs;
      const fixed = runs[`${kind}-1s`];
      const extra = runs[kind].map((r, i) => own(r) - own(fixed[i]));
      const perSample = runs[kind].map((r, i) => (own(r) - own(fixed[i])) / (r.samples - fixed[i].samples));
      out.push(`- ${kind}: at 1 s ${range(fixed.map(own), ms)} ms (${range(fixed.map((r) => r.samples), String)} samples); ` +
        `at 10 ms ${range(extra, ms)} ms more, ${range(perSample, (ns) => (ns / 1e3).toFixed(1))} µs per sample`);
    }
  }
  if (Object.keys(bsum).length) {
    out.push('');
    out.push(`Parts 2 and 3: ${a.blocks} pairs of blocks alternating unprofiled / profiled in one process, main-thread CPU, medians [min–max]:`);
    out.push('');
    out.push('| | samples per block | unprofiled block ms | profiled − unprofiled, ms | ratio | per sample µs | per compiled function µs | handler_ns per sample µs |');
    out.push('|---|---|---|---|---|---|---|---|');
    const us = (ns) => (ns / 1e3).toFixed(2);
    for (const [k, s] of Object.entries(bsum)) {
      out.push(
        `| ${k} | ${s.samples.median} | ${ms(s.noneNs.median)} | ${range(blocks[k].pairs.map((p) => p.profNs - p.noneNs), ms)} | ${s.ratio.median.toFixed(3)} [${s.ratio.min.toFixed(3)}–${s.ratio.max.toFixed(3)}]` +
          ` | ${s.perSampleNs ? `${us(s.perSampleNs.median)} [${us(s.perSampleNs.q1)}–${us(s.perSampleNs.q3)} IQR]` : '–'}` +
          ` | ${s.perFnNs ? `${us(s.perFnNs.median)} [${us(s.perFnNs.q1)}–${us(s.perFnNs.q3)} IQR]` : '–'}` +
          ` | ${s.handlerPerSampleNs ? us(s.handlerPerSampleNs.median) : '–'} |`,
      );
    }
  }
  if (jitx.none.length) {
    out.push('');
    out.push(`Part 3b: ${a.rounds} rounds of processes compiling 10 blocks of ${jitx.none[0].fns} fresh functions each, profiler running at 10 ms (or none);` +
      ' per process the median block\'s main-thread CPU; per compiled function against the same round\'s unprofiled process, less samples × the handler\'s cost per sample (polyprof\'s handler_ns, V8\'s walk for @datadog/pprof):');
    out.push('');
    out.push('| | block ms, median [min–max] | extra µs per compiled function, paired median [min–max] |');
    out.push('|---|---|---|');
    const us = (ns) => (ns / 1e3).toFixed(2);
    for (const kind of kinds) {
      const ps = kind === 'pp' ? ppHandlerNs : ddWalkNs;
      const extra = jitx[kind].map((r, i) => (r.blockNs - jitx.none[i].blockNs - (ps || 0) * r.samplesPerBlock) / r.fns);
      out.push(`| ${kind} | ${range(jitx[kind].map((r) => r.blockNs), ms)} | ${kind === 'none' ? '–' : range(extra, us)} |`);
    }
  }
  console.log(out.join('\n'));
  if (a.json) fs.writeFileSync(a.json, JSON.stringify({ args: a, node: process.version, t0, t1, loads, runs, blocks, bsum, per, jitx }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
