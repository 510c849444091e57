#!/usr/bin/env node
'use strict';
/**
 * CPU overhead of polyprof's allocation profiles (mode 'alloc': V8's sampling
 * heap profiler, read in a GC prologue) against no profiler and against
 * @datadog/pprof's heap profiler (the same V8 profiler, live objects only).
 *
 *   node bench/node/alloc_overhead.js [--reps N] [--scale UNITS] [--only a,b] [--json FILE]
 *
 * Every run is a fresh child (`alloc_overhead.js --child CONFIG`) doing a
 * fixed, allocation-bound workload: short-lived objects, arrays and strings,
 * and a rolling cache of 20 000 entries so that objects also reach the old
 * generation and major GCs run. Configurations run interleaved (A B C D A B
 * C D ...). Per run: work CPU (process.cpuUsage around the workload, the
 * profiler started before and stopped after) and span CPU (plus start,
 * stop and the pprof encoding). Results: medians over repetitions, and the
 * median of each repetition's ratio against its own unprofiled run.
 * @datadog/pprof is loaded from bench/node/node_modules
 * (`cd bench/node && npm install`); its configuration is skipped without it.
 */
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const REPO = path.resolve(__dirname, '..', '..');
const CONFIGS = {
  none: 'no profiler',
  none2: 'no profiler (2nd run: noise floor)',
  'pp-alloc-512k': "polyprof mode 'alloc', allocInterval 512k (alloc + inuse)",
  'pp-alloc-64k': "polyprof mode 'alloc', allocInterval 64k",
  'dd-heap-512k': '@datadog/pprof heap, 512k (inuse only)',
};

function workload(units) {
  const cache = new Map();
  let checksum = 0;
  for (let u = 0; u < units; u++) {
    for (let i = 0; i < 200; i++) {
      const key = `k${(u * 200 + i) % 20000}`;
      const rec = { id: u * 200 + i, name: `item-${i}-${u}`, tags: [i & 7, u & 7, (i * u) & 7], nested: { a: i, b: [u, i] } };
      cache.set(key, rec); // replaces an older entry: old objects die in the old generation
      const s = JSON.stringify(rec.nested);
      checksum = (checksum + s.length + rec.tags.length) | 0;
    }
    const parts = [];
    for (let i = 0; i < 100; i++) parts.push(String(i * u));
    checksum = (checksum + parts.join(',').length) | 0;
  }
  return checksum + cache.size;
}

function cpuNs() {
  const c = process.cpuUsage();
  return (c.user + c.system) * 1000;
}

function child(config, units) {
  let stop;
  const t0 = cpuNs();
  if (config.startsWith('pp-alloc')) {
    const polyprof = require(REPO);
    const s = polyprof.start({ mode: 'alloc', allocInterval: config.endsWith('64k') ? '64k' : '512k' });
    stop = () => {
      const p = s.stop();
      const md = p.metadata;
      return { bytes: p.toBuffer('pprof').length, reads: md.heap_reads, readCpuNs: md.heap_read_cpu_ns };
    };
  } else if (config === 'dd-heap-512k') {
    const { heap, encodeSync } = require(path.join(__dirname, 'node_modules/@datadog/pprof'));
    heap.start(512 * 1024, 64);
    stop = () => {
      const p = heap.profile();
      heap.stop();
      return { bytes: encodeSync(p).length };
    };
  }
  const w0 = cpuNs();
  const checksum = workload(units);
  const w1 = cpuNs();
  const extra = stop ? stop() : {};
  const t1 = cpuNs();
  process.stdout.write(`${JSON.stringify({ config, checksum, workNs: w1 - w0, spanNs: t1 - t0, ...extra })}\n`);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function main() {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : dflt;
  };
  if (args[0] === '--child') return child(args[1], Number(args[2]));
  const reps = Number(opt('--reps', 9));
  const units = Number(opt('--scale', 1500));
  let configs = opt('--only', Object.keys(CONFIGS).join(',')).split(',');
  if (!fs.existsSync(path.join(__dirname, 'node_modules/@datadog/pprof'))) {
    process.stderr.write('@datadog/pprof is not installed in bench/node: dd-heap-512k skipped\n');
    configs = configs.filter((c) => !c.startsWith('dd-'));
  }
  const runs = Object.fromEntries(configs.map((c) => [c, []]));
  for (let r = 0; r < reps; r++) {
    for (const c of configs) {
      const out = spawnSync(process.execPath, [__filename, '--child', c, String(units)], { encoding: 'utf8' });
      if (out.status !== 0) throw new Error(`${c}: ${out.stderr}`);
      runs[c].push(JSON.parse(out.stdout.trim()));
    }
    process.stderr.write(`repetition ${r + 1}/${reps} done\n`);
  }
  const sums = new Set(Object.values(runs).flat().map((x) => x.checksum));
  if (sums.size !== 1) throw new Error(`checksums differ: ${[...sums]}`);
  const rows = [];
  for (const c of configs) {
    const work = median(runs[c].map((x) => x.workNs)) / 1e6;
    const span = median(runs[c].map((x) => x.spanNs)) / 1e6;
    const paired = runs.none ? median(runs[c].map((x, i) => x.workNs / runs.none[i].workNs)) : NaN;
    const reads = runs[c][0].reads !== undefined ? median(runs[c].map((x) => x.reads)) : '';
    const readMs = runs[c][0].readCpuNs !== undefined ? (median(runs[c].map((x) => x.readCpuNs)) / 1e6).toFixed(1) : '';
    rows.push({ config: c, workMs: work.toFixed(0), spanMs: span.toFixed(0), pairedRatio: paired.toFixed(3), reads, readMs });
  }
  console.log(`${reps} repetitions, ${units} units; medians (ms of CPU)`);
  console.log('config          work   span  work/none(paired)  heap reads  read CPU ms');
  for (const r of rows) {
    console.log(
      `${r.config.padEnd(15)} ${r.workMs.padStart(5)} ${r.spanMs.padStart(6)}  ${r.pairedRatio.padStart(17)}  ${String(r.reads).padStart(10)}  ${String(r.readMs).padStart(11)}`,
    );
  }
  const json = opt('--json');
  if (json) fs.writeFileSync(json, JSON.stringify({ reps, units, runs, rows }, null, 1));
}

main();
