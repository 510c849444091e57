#!/usr/bin/env node
'use strict';
/**
 * CPU overhead of polyprof's Node addon at 100 Hz, against no profiler and
 * against @datadog/pprof's time profiler (V8's CpuProfiler underneath).
 *
 *   node bench/node/overhead.js [--reps N] [--scale UNITS | --seconds S] [--only a,b]
 *                               [--polyprof DIR] [--json FILE]
 *
 * --polyprof DIR loads polyprof from DIR (a built checkout, e.g. one unpacked
 * from `git archive`) instead of this repository, so that a rebuild of the
 * working tree during the run does not change what is measured.
 *
 * Every run is a fresh child process (`overhead.js --child CONFIG`) doing a
 * fixed amount of CPU-bound work (JSON, a numeric loop, sha256 over buffers,
 * regex), so a profiler's overhead shows as extra CPU and wall time for the
 * same work. Configurations run interleaved, A B C D A B C D ..., one
 * repetition after another. The results are medians over the repetitions,
 * and ratios of medians against the unprofiled baseline.
 *
 * Measured per run:
 *   work CPU   process.cpuUsage() (user+sys, all threads) in the child around
 *              the workload only, from just after the profiler's start to just
 *              before its stop;
 *   span CPU   the same from just before start() to after the profile has been
 *              serialized to pprof (what a user pays for one profile);
 *   proc CPU   the whole child process (startup, require, exit included), from
 *              /usr/bin/time -f in the parent;
 *   wall       the child's wall time around the workload only, and the whole
 *              process' elapsed time from /usr/bin/time.
 *
 *   threads    the work window's CPU split into the main thread and the
 *              others, from /proc/self/task/<tid>/schedstat.
 *
 * --seconds S sizes the workload to about S CPU-seconds unprofiled (default:
 * --scale 1300, ~2.4 CPU-s here). --only picks configurations, including the
 * diagnostic ones (pp-cpu-1s, pp-cpu-js) that are not run by default.
 *
 * Each profiled run checks its profile is real: a non-empty pprof buffer and
 * the four workload functions among its frames (every run); once per
 * configuration polyprof's report from runWorkload is printed and checked.
 * Samples against work CPU x rate are reported, not asserted.
 */
const { spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
let polyprofDir = REPO;
const INTERVAL_MS = 10;
const WORK_FUNCTIONS = ['jsonRoundTrip', 'numericKernel', 'hashBuffers', 'regexScan'];

const CONFIGS = {
  none: 'no profiler',
  none2: 'no profiler (2nd run: noise floor)',
  'pp-cpu': "polyprof mode 'cpu', intervalMs 10",
  'pp-v8': "polyprof mode 'v8', intervalMs 10",
  'dd-time': '@datadog/pprof time, intervalMicros 10000',
};
// diagnostics, only with --only: where polyprof's cost goes
const DIAG_CONFIGS = {
  'pp-cpu-1s': "polyprof mode 'cpu', intervalMs 1000 (fixed costs: ~2 samples)",
  'pp-cpu-js': "polyprof mode 'cpu', intervalMs 10, native: false",
};

// ---------------------------------------------------------------- workload --

function jsonRoundTrip(seed) {
  const doc = { id: seed, tags: [], items: [] };
  for (let i = 0; i < 60; i++) {
    doc.tags.push(`tag-${(seed * 31 + i) % 97}`);
    doc.items.push({ n: i, price: (seed + i) * 1.25, name: `item ${i} of ${seed}`, ok: (i & 1) === 0 });
  }
  let sum = 0;
  for (let r = 0; r < 6; r++) {
    const back = JSON.parse(JSON.stringify(doc));
    sum += back.items.length + back.items[r].price;
  }
  return sum;
}

function numericKernel(seed) {
  let x = seed + 0.5;
  let acc = 0;
  for (let i = 0; i < 60000; i++) {
    x = (x * 1.000001 + 0.37) % 1000;
    acc += Math.sqrt(x) * ((i & 7) - 3.5);
  }
  return acc;
}

const BUFFERS = Array.from({ length: 4 }, (_, i) => Buffer.alloc(64 * 1024, i + 1));

function hashBuffers(seed) {
  let out = 0;
  for (let r = 0; r < 3; r++) {
    const h = crypto.createHash('sha256');
    for (const b of BUFFERS) h.update(b);
    h.update(String(seed + r));
    out ^= h.digest().readUInt32LE(0);
  }
  return out;
}

const LINE_RE = /^(\w+)-(\d+)\s+user=([a-z]+)(?:\s+ms=(\d+))?\s*(ERROR|WARN|INFO)$/;

function regexScan(seed) {
  let hits = 0;
  for (let i = 0; i < 600; i++) {
    const level = i % 3 === 0 ? 'ERROR' : i % 3 === 1 ? 'WARN' : 'INFO';
    const line = `req-${seed + i} user=${'abcdefgh'.slice(i % 5)} ms=${i * 7} ${level}`;
    const m = LINE_RE.exec(line);
    if (m && m[5] === 'ERROR') hits += Number(m[4]);
  }
  return hits;
}

/** units of work; each unit runs all four parts once. Returns a checksum. */
function runWorkload(units) {
  let check = 0;
  for (let u = 0; u < units; u++) {
    check = (check + jsonRoundTrip(u)) % 1e9;
    check = (check + Math.round(numericKernel(u))) % 1e9;
    check = (check + hashBuffers(u)) % 1e9;
    check = (check + regexScan(u)) % 1e9;
  }
  return check;
}

// ------------------------------------------------------------------- child --

function cpuMicros(u) {
  return u.user + u.system;
}

/** {tid: ns on CPU} for every thread of this process, from /proc (Linux). */
function threadNs() {
  const out = {};
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      out[tid] = Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      // the thread exited
    }
  }
  return out;
}

async function child(config, units, deep) {
  let profiler = null;
  if (config.startsWith('pp-')) {
    const pp = require(polyprofDir);
    const opts = {
      'pp-cpu': { mode: 'cpu', intervalMs: INTERVAL_MS },
      'pp-v8': { mode: 'v8', intervalMs: INTERVAL_MS },
      'pp-cpu-1s': { mode: 'cpu', intervalMs: 1000 },
      'pp-cpu-js': { mode: 'cpu', intervalMs: INTERVAL_MS, native: false },
    }[config];
    profiler = {
      start: () => pp.start(opts),
      stop: async () => {
        const prof = pp.stop();
        const buf = prof.toBuffer(); // pprof, gzipped
        return { prof, buf };
      },
    };
  } else if (config === 'dd-time') {
    const { time, encode } = require('@datadog/pprof');
    profiler = {
      start: () => time.start({ intervalMicros: INTERVAL_MS * 1000, durationMillis: 3600 * 1000 }),
      stop: async () => {
        const prof = time.stop();
        const buf = await encode(prof);
        return { prof, buf };
      },
    };
  }

  const c0 = process.cpuUsage();
  if (profiler) profiler.start();
  const t1 = threadNs();
  const c1 = process.cpuUsage();
  const w1 = process.hrtime.bigint();
  const checksum = runWorkload(units);
  const w2 = process.hrtime.bigint();
  const c2 = process.cpuUsage();
  const t2 = threadNs();
  let result = null;
  if (profiler) result = await profiler.stop();
  const c3 = process.cpuUsage();

  const out = {
    config,
    checksum,
    workCpuUs: cpuMicros(c2) - cpuMicros(c1),
    spanCpuUs: cpuMicros(c3) - cpuMicros(c0),
    startCpuUs: cpuMicros(c1) - cpuMicros(c0),
    stopCpuUs: cpuMicros(c3) - cpuMicros(c2),
    workWallUs: Number(w2 - w1) / 1000,
  };
  // the same window split by thread (schedstat: ns on CPU): the main thread,
  // and all others (V8's platform workers, libuv, the profilers' threads)
  let main = 0;
  let others = 0;
  for (const [tid, ns] of Object.entries(t2)) {
    const d = ns - (t1[tid] || 0);
    if (Number(tid) === process.pid) main += d;
    else others += d;
  }
  out.mainThreadUs = main / 1e3;
  out.otherThreadsUs = others / 1e3;
  if (result) {
    out.bufBytes = result.buf.length;
    if (!Buffer.isBuffer(result.buf) || result.buf.length === 0) throw new Error(`${config}: empty pprof buffer`);
    let names;
    if (config === 'dd-time') {
      const p = result.prof;
      out.samples = p.sample.reduce((s, x) => s + Number(x.value[0]), 0);
      names = new Set(p.stringTable.strings);
    } else {
      const prof = result.prof;
      out.samples = prof.total(0);
      const md = prof.metadata;
      if (md.samples_taken !== undefined) out.samplesTaken = md.samples_taken;
      if (md.handler_ns !== undefined) out.handlerNs = md.handler_ns;
      names = new Set();
      for (const s of prof.samples()) for (const f of s.frames) names.add(f.name);
      if (deep) {
        // report(N) of the whole profile is the top N by cumulative value,
        // led by the module loader's and main's frames (100% each), so cut it
        // at runWorkload. In mode 'cpu' the native frames under hashBuffers
        // (4 at ~25%) and under JSON.parse/stringify take places of their own,
        // so the smaller parts (regexScan ~7%) can fall below 10th: take 20.
        const report = prof.showFrom('runWorkload').report(20);
        out.report = report;
        out.reportMissing = WORK_FUNCTIONS.filter((n) => !report.includes(n));
      }
    }
    out.missing = WORK_FUNCTIONS.filter((n) => !names.has(n));
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ------------------------------------------------------------------ parent --

function parseArgs(argv) {
  const a = { reps: 15, scale: 1300, only: null, json: null, child: null, deep: false, seconds: null, polyprof: REPO };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = () => argv[++i];
    if (k === '--reps') a.reps = Number(v());
    else if (k === '--scale') a.scale = Number(v());
    else if (k === '--seconds') a.seconds = Number(v());
    else if (k === '--only') a.only = v().split(',');
    else if (k === '--json') a.json = v();
    else if (k === '--child') a.child = v();
    else if (k === '--deep') a.deep = true;
    else if (k === '--polyprof') a.polyprof = path.resolve(v());
    else throw new Error(`unknown argument ${k}`);
  }
  return a;
}

function runChild(config, units, deep) {
  const timeFile = path.join(os.tmpdir(), `pp-bench-time-${process.pid}.txt`);
  const args = ['-f', '%U %S %e', '-o', timeFile, process.execPath, __filename, '--child', config, '--scale', String(units), '--polyprof', polyprofDir];
  if (deep) args.push('--deep');
  const r = spawnSync('/usr/bin/time', args, { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    throw new Error(`child ${config} failed (status ${r.status}, signal ${r.signal}):\n${r.stderr}`);
  }
  const lines = r.stdout.trim().split('\n');
  const res = JSON.parse(lines[lines.length - 1]);
  const t = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
  fs.unlinkSync(timeFile);
  res.procCpuUs = (t[0] + t[1]) * 1e6;
  res.procWallUs = t[2] * 1e6;
  if (r.stderr.trim()) res.stderr = r.stderr.trim();
  return res;
}

function quantile(sorted, q) {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { median: quantile(s, 0.5), q1: quantile(s, 0.25), q3: quantile(s, 0.75), min: s[0], max: s[s.length - 1] };
}

function pct(ratio) {
  const p = (ratio - 1) * 100;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
}

/** The addon that children load: its hash and mtime, to notice a rebuild mid-run. */
function addonId() {
  const f = path.join(polyprofDir, 'build', 'Release', 'polyprof.node');
  try {
    const st = fs.statSync(f);
    const h = crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex').slice(0, 12);
    return `${h} (${st.mtime.toISOString()})`;
  } catch (e) {
    return `missing (${e.code})`;
  }
}

function loadAvg() {
  return os.loadavg().map((x) => x.toFixed(2)).join(' ');
}

function main() {
  const a = parseArgs(process.argv.slice(2));
  polyprofDir = a.polyprof;
  if (a.child) return child(a.child, a.scale, a.deep);

  let configs = Object.keys(CONFIGS);
  if (a.only) configs = [...configs, ...Object.keys(DIAG_CONFIGS)].filter((c) => a.only.includes(c));
  if (!configs.includes('none')) configs.unshift('none');

  // --seconds S: size the workload so that an unprofiled run takes ~S CPU-s
  if (a.seconds) {
    const probe = runChild('none', 50, false);
    a.scale = Math.max(1, Math.round((50 * a.seconds * 1e6) / probe.workCpuUs));
  }

  const start = new Date();
  const addonAtStart = addonId();
  console.error(`# ${start.toISOString()}  node ${process.version}  ${os.cpus().length} CPUs  load ${loadAvg()}`);
  console.error(`# polyprof from ${polyprofDir}`);
  console.error(`# scale ${a.scale} units, ${a.reps} repetitions of: ${configs.join(' ')}`);

  const runs = Object.fromEntries(configs.map((c) => [c, []]));
  const loads = [os.loadavg()[0]];
  const notes = [];
  let checksum = null;
  for (let rep = 0; rep < a.reps; rep++) {
    for (const c of configs) {
      const deep = rep === 0 && c.startsWith('pp-');
      const r = runChild(c, a.scale, deep);
      if (checksum === null) checksum = r.checksum;
      if (r.checksum !== checksum) throw new Error(`${c}: checksum ${r.checksum} != ${checksum}`);
      // at 1 s intervals a 2.5 s run has ~2 samples: names may be missing
      if (r.missing && r.missing.length && c !== 'pp-cpu-1s') notes.push(`rep ${rep} ${c}: functions missing from profile: ${r.missing.join(', ')}`);
      if (deep) {
        console.error(`# ${c} report(20) from runWorkload, repetition 0:\n${r.report.replace(/^/gm, '#   ')}`);
        if (r.reportMissing.length && c !== 'pp-cpu-1s') notes.push(`${c}: report(20) lacks ${r.reportMissing.join(', ')}`);
        delete r.report;
      }
      if (r.stderr) notes.push(`rep ${rep} ${c} stderr: ${r.stderr.split('\n')[0]}`);
      runs[c].push(r);
      console.error(
        `rep ${rep} ${c.padEnd(8)} work cpu ${(r.workCpuUs / 1e6).toFixed(3)}s wall ${(r.workWallUs / 1e6).toFixed(3)}s` +
          ` proc cpu ${(r.procCpuUs / 1e6).toFixed(2)}s` +
          (r.samples !== undefined ? ` samples ${r.samples} (${r.bufBytes} B)` : ''),
      );
    }
    loads.push(os.loadavg()[0]);
  }
  const end = new Date();
  const addonAtEnd = addonId();
  if (addonAtEnd !== addonAtStart) notes.push(`the addon changed during the run: ${addonAtStart} -> ${addonAtEnd}`);

  const metrics = [
    ['workCpuUs', 'work CPU'],
    ['workWallUs', 'work wall'],
    ['spanCpuUs', 'start→pprof CPU'],
    ['procCpuUs', 'process CPU'],
    ['procWallUs', 'process wall'],
    ['startCpuUs', 'start() CPU'],
    ['stopCpuUs', 'stop()+pprof CPU'],
    ['mainThreadUs', 'main thread CPU'],
    ['otherThreadsUs', 'other threads CPU'],
  ];
  const summary = {};
  for (const c of configs) {
    summary[c] = {};
    for (const [k] of metrics) summary[c][k] = stats(runs[c].map((r) => r[k]));
    // per-repetition ratio against the same repetition's baseline
    summary[c].pairedWorkCpu = stats(runs[c].map((r, i) => r.workCpuUs / runs.none[i].workCpuUs));
    if (runs[c][0].samples !== undefined) {
      // expected samples: work CPU (the workload is single-threaded JS plus
      // synchronous native calls) times the rate
      summary[c].sampleRatio = stats(runs[c].map((r) => r.samples / (r.workCpuUs / 1e3 / INTERVAL_MS)));
      if (runs[c][0].handlerNs !== undefined) {
        summary[c].handlerUsPerSample = stats(runs[c].map((r) => r.handlerNs / 1e3 / r.samplesTaken));
      }
    }
  }

  const s = (us) => (us / 1e6).toFixed(3);
  const base = summary.none;
  const out = [];
  out.push(`Node ${process.version}, ${os.cpus().length} CPUs, ${a.scale} units, ${a.reps} repetitions, ` +
    `${start.toISOString()} – ${end.toISOString()}, polyprof from ${polyprofDir}, polyprof.node sha256 ${addonAtStart}, 1-min load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`);
  out.push('');
  out.push('| configuration | work CPU s, median [IQR] | vs none | work wall s, median | vs none | paired work-CPU ratio, median [min–max] | start→pprof CPU s | vs none | process CPU s | vs none |');
  out.push('|---|---|---|---|---|---|---|---|---|---|');
  for (const c of configs) {
    const m = summary[c];
    out.push(
      `| ${c} | ${s(m.workCpuUs.median)} [${s(m.workCpuUs.q1)}–${s(m.workCpuUs.q3)}] | ${pct(m.workCpuUs.median / base.workCpuUs.median)}` +
        ` | ${s(m.workWallUs.median)} | ${pct(m.workWallUs.median / base.workWallUs.median)}` +
        ` | ${m.pairedWorkCpu.median.toFixed(3)} [${m.pairedWorkCpu.min.toFixed(3)}–${m.pairedWorkCpu.max.toFixed(3)}]` +
        ` | ${s(m.spanCpuUs.median)} | ${pct(m.spanCpuUs.median / base.spanCpuUs.median)}` +
        ` | ${s(m.procCpuUs.median)} | ${pct(m.procCpuUs.median / base.procCpuUs.median)} |`,
    );
  }
  out.push('');
  out.push('| configuration | work CPU s min–max | work wall s [IQR], min–max | samples / expected, median [min–max] | handler µs per sample, median | pprof bytes |');
  out.push('|---|---|---|---|---|---|');
  for (const c of configs) {
    const m = summary[c];
    const sr = m.sampleRatio ? `${m.sampleRatio.median.toFixed(3)} [${m.sampleRatio.min.toFixed(3)}–${m.sampleRatio.max.toFixed(3)}]` : '–';
    const hu = m.handlerUsPerSample && Number.isFinite(m.handlerUsPerSample.median) ? m.handlerUsPerSample.median.toFixed(1) : '–';
    const bytes = runs[c][0].bufBytes !== undefined ? String(stats(runs[c].map((r) => r.bufBytes)).median) : '–';
    out.push(
      `| ${c} | ${s(m.workCpuUs.min)}–${s(m.workCpuUs.max)} | ${s(m.workWallUs.q1)}–${s(m.workWallUs.q3)}, ${s(m.workWallUs.min)}–${s(m.workWallUs.max)} | ${sr} | ${hu} | ${bytes} |`,
    );
  }
  out.push('');
  out.push('| configuration | work CPU, main thread s | vs none | work CPU, other threads s | vs none (s) | start() CPU ms | stop() + pprof CPU ms |');
  out.push('|---|---|---|---|---|---|---|');
  for (const c of configs) {
    const m = summary[c];
    out.push(
      `| ${c} | ${s(m.mainThreadUs.median)} | ${pct(m.mainThreadUs.median / base.mainThreadUs.median)}` +
        ` | ${s(m.otherThreadsUs.median)} | ${((m.otherThreadsUs.median - base.otherThreadsUs.median) / 1e6 >= 0 ? '+' : '') + s(m.otherThreadsUs.median - base.otherThreadsUs.median)}` +
        ` | ${(m.startCpuUs.median / 1e3).toFixed(1)} | ${(m.stopCpuUs.median / 1e3).toFixed(1)} |`,
    );
  }
  if (notes.length) {
    out.push('');
    for (const n of notes) out.push(`- ${n}`);
  }
  console.log(out.join('\n'));
  if (a.json) fs.writeFileSync(a.json, JSON.stringify({ args: a, node: process.version, start, end, loads, runs, summary }, null, 1));
}

// the workload and the statistics are shared with overhead_attribution.js
module.exports = { runWorkload, WORK_FUNCTIONS, numericKernel, stats, loadAvg, addonId: (dir) => ((polyprofDir = dir), addonId()) };

if (require.main === module) {
  const r = main();
  if (r && typeof r.catch === 'function') {
    r.catch((e) => {
      console.error(e);
      process.exit(1);
    });
  }
}
