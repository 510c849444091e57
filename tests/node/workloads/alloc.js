'use strict';
// Allocation workloads for tests/node/alloc.test.js, run as
//   node --no-opt alloc.js SCENARIO OUT [allocInterval]
// (--no-opt: no TurboFan, so no inlining hides a function's frame and no
// escape analysis removes an allocation). Each allocating function keeps its
// arrays reachable from a global ring for a moment, so they are real heap
// objects, then lets them go unless it leaks them.
//   ratio: allocA allocates 3x the bytes of allocB.
//   leak:  leaky retains everything it allocates; churn allocates garbage
//          at the same rate.
//   both:  a CPU and an allocation session at once (start both, stop both).
const polyprof = require('../../..');

const [scenario, out, allocInterval = '64k'] = process.argv.slice(2);
const ring = new Array(64);
let slot = 0;
const retained = [];

function allocA(n) {
  for (let i = 0; i < n; i++) ring[slot++ & 63] = new Array(30).fill(i);
}
function allocB(n) {
  for (let i = 0; i < n; i++) ring[slot++ & 63] = new Array(30).fill(i);
}
function leaky(n) {
  for (let i = 0; i < n; i++) retained.push(new Array(30).fill(i));
}
function churn(n) {
  for (let i = 0; i < n; i++) ring[slot++ & 63] = new Array(30).fill(i);
}
function burn(ms) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += Math.sqrt(x + 1);
  return x;
}

const session = polyprof.start({ mode: 'alloc', allocInterval });
if (scenario === 'ratio') {
  for (let r = 0; r < 400; r++) {
    allocA(3000);
    allocB(1000);
  }
} else if (scenario === 'leak') {
  for (let r = 0; r < 300; r++) {
    leaky(1000);
    churn(1000);
  }
} else if (scenario === 'both') {
  const cpu = polyprof.start({ mode: 'cpu', intervalMs: 5 });
  for (let r = 0; r < 50; r++) {
    allocA(1000);
    burn(4);
  }
  cpu.stop().write(`${out}.cpu.pb.gz`);
} else {
  throw new Error(`unknown scenario ${scenario}`);
}
session.stop().write(out);
