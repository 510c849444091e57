#!/usr/bin/env node
'use strict';
/**
 * The signal handler's cost per sample in Node's cpu mode with deep machine
 * stacks: JavaScript recursion (JIT frames, walked by frame pointer) through
 * native calls (Array.prototype.sort's comparator, JSON.parse's reviver,
 * String.prototype.replace's callback) down to native work (JSON, zlib,
 * sha256): in steady state on Node 20, ~88 machine frames per sample with
 * the default 9 hops, ~70 with 5 or 6, ~44 with 1 (the mean is reported:
 * metadata native_frames / samples_taken). `handler_ns /
 * samples_taken` from the profile's metadata for a fresh process's first
 * 300 ms and for a second capture in the same process (steady state), with
 * the share of samples the unwind tables missed, and the FDE reads and
 * block hits per sample (rules read in the handler from an object's
 * .eh_frame, or from the rows the drain thread stored by block). Each
 * round runs each given build in turn (a directory holding a built
 * checkout, as `git archive` unpacks one).
 *
 *   node bench/node/native_unwind_cost.js ROUNDS DIR [DIR...] [--hops N] [--captures K]
 *
 * --captures K: the steady figure is the K-th 1.5 s capture after the fresh
 * one (default 1), for a process profiled for a while, as continuous
 * profiling keeps one: rules the drain thread stored by block accumulate
 * over the captures.
 *
 * A DIR given as js-only:DIR runs that build with native: false: the
 * handler's cost without the native unwind, in the same rounds. One given
 * as v8-frames:DIR runs it with POLYPROF_NODE_JS_FRAMES=v8: the JavaScript
 * frames from V8's own walk rather than read off the native walk.
 */
const { execFileSync } = require('child_process');
const path = require('path');

function childMain(spec, depth, captures) {
  const jsOnly = spec.startsWith('js-only:');
  const dir = jsOnly ? spec.slice('js-only:'.length) : spec;
  const pp = require(path.resolve(dir));
  const zlib = require('zlib');
  const crypto = require('crypto');
  const data = Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item${i}`, tags: ['a', 'b', String(i)] }));
  function leaf() {
    const s = JSON.stringify(data);
    zlib.inflateSync(zlib.deflateSync(Buffer.from(s)));
    crypto.createHash('sha256').update(s).digest('hex');
    JSON.parse(s);
  }
  const hops = [
    (n) => [n, n].sort((a, b) => level(n) - 0 + a - b),
    (n) => JSON.parse('[1]', (k, v) => (k === '0' ? level(n) : v)),
    (n) => 'x'.replace('x', () => String(level(n))),
  ];
  function level(n) {
    if (n <= 0) {
      leaf();
      return 0;
    }
    hops[n % 3](n - 1);
    return n;
  }
  function run(ms) {
    const end = process.cpuUsage().user + ms * 1000;
    while (process.cpuUsage().user < end) level(depth);
  }
  function capture(ms) {
    pp.start({ mode: 'cpu', intervalMs: 1, native: !jsOnly });
    run(ms);
    const md = pp.stop().metadata;
    const samples = Math.max(1, Number(md.samples_taken));
    return {
      ns: Number(md.handler_ns) / samples,
      samples,
      misses: Number(md.unwind_table_misses ?? -1),
      frames: Number(md.native_frames ?? 0) / samples,
      fdeReads: Number(md.unwind_fde_reads ?? 0) / samples,
      blockHits: Number(md.unwind_block_hits ?? 0) / samples,
    };
  }
  const fresh = capture(300);
  run(500);
  let steady;
  for (let k = 0; k < captures; k++) steady = capture(1500);
  process.stdout.write(JSON.stringify({ fresh, steady }) + '\n');
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function main() {
  const rounds = Number(process.argv[2]);
  const args = process.argv.slice(3);
  const at = args.indexOf('--hops');
  const hops = at >= 0 ? args.splice(at, 2)[1] : '9';
  const atCaptures = args.indexOf('--captures');
  const captures = atCaptures >= 0 ? args.splice(atCaptures, 2)[1] : '1';
  const dirs = args;
  const res = Object.fromEntries(dirs.map((d) => [d, []]));
  for (let r = 0; r < rounds; r++) {
    for (const d of dirs) {
      const v8Frames = d.startsWith('v8-frames:');
      const env = v8Frames ? { ...process.env, POLYPROF_NODE_JS_FRAMES: 'v8' } : process.env;
      const child = v8Frames ? d.slice('v8-frames:'.length) : d;
      const out = execFileSync(process.execPath, [__filename, '--child', child, hops, captures], { encoding: 'utf8', env });
      res[d].push(JSON.parse(out.trim().split('\n').pop()));
    }
  }
  const summary = {};
  for (const [d, runs] of Object.entries(res)) {
    summary[d] = {};
    for (const phase of ['fresh', 'steady']) {
      const samples = runs.reduce((s, r) => s + r[phase].samples, 0);
      const misses = runs.every((r) => r[phase].misses >= 0) ? runs.reduce((s, r) => s + r[phase].misses, 0) : null;
      summary[d][phase] = {
        handler_us_median: Math.round(median(runs.map((r) => r[phase].ns)) / 10) / 100,
        handler_us_all: runs.map((r) => Math.round(r[phase].ns / 100) / 10),
        table_miss_share: misses === null ? null : Math.round((misses / samples) * 1e4) / 1e4,
        samples,
        native_frames_median: Math.round(median(runs.map((r) => r[phase].frames)) * 10) / 10,
        fde_reads_per_sample_median: Math.round(median(runs.map((r) => r[phase].fdeReads)) * 1000) / 1000,
        block_hits_per_sample_median: Math.round(median(runs.map((r) => r[phase].blockHits)) * 1000) / 1000,
      };
    }
  }
  process.stdout.write(JSON.stringify(summary, null, 1) + '\n');
}

if (process.argv[2] === '--child') childMain(process.argv[3], Number(process.argv[4]), Number(process.argv[5]));
else main();
