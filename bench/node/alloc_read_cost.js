#!/usr/bin/env node
'use strict';
// What one read of V8's allocation profile (mode 'alloc', in every GC
// prologue) costs against the number of scripts loaded: V8 resolves line
// and column through a map of every script on each read.
//   node bench/node/alloc_read_cost.js SCRIPTS
const polyprof = require('../..');
const n = Number(process.argv[2] || 0);
const vm = require('vm');
const keepScripts = [];
for (let i = 0; i < n; i++) keepScripts.push(new vm.Script(`(function m${i}(x) { return x + ${i}; })`, { filename: `/app/mod${i}.js` }).runInThisContext());
const s = polyprof.start({ mode: 'alloc' });
const ring = new Array(64); let slot = 0;
function churn(k) { for (let i = 0; i < k; i++) ring[slot++ & 63] = { a: i, b: [i, i], c: 'x' + i }; }
const t0 = process.cpuUsage();
for (let r = 0; r < 3000; r++) churn(1000);
const c = process.cpuUsage(t0);
const md = s.stop().metadata;
console.log(`scripts ${n}: work ${((c.user + c.system) / 1000).toFixed(0)} ms, reads ${md.heap_reads}, read cpu ${(md.heap_read_cpu_ns / 1e6).toFixed(1)} ms, per read ${(md.heap_read_cpu_ns / md.heap_reads / 1e3).toFixed(0)} us`);
