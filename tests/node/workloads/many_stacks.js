'use strict';
// Many distinct deep stacks: recursion through randomly chosen functions,
// so nearly every sample has a stack of its own (for the memory cap).
// Prints the profile's metadata and the samples of the overflow frame.
const polyprof = require('../../..');

const fns = [];
for (let i = 0; i < 64; i++) fns.push(eval(`(function f${i}(step, depth) { return step(depth); })`)); // eslint-disable-line no-eval
function step(depth) {
  if (depth === 0) {
    const t = Date.now();
    let x = 0;
    while (Date.now() - t < 1) x += Math.sqrt(x + 1);
    return x;
  }
  return fns[Math.floor(Math.random() * fns.length)](step, depth - 1);
}

polyprof.start({ mode: 'wall', intervalMs: 1, native: false, options: process.argv[2] });
const until = Date.now() + Number(process.argv[3]) * 1000;
while (Date.now() < until) step(40 + Math.floor(Math.random() * 60));
const p = polyprof.stop();
let overflow = 0;
let samples = 0;
for (const s of p.samples()) {
  samples += s.values[0];
  if (s.frames.some((f) => f.name === '[overflow: profiler memory cap reached]')) overflow += s.values[0];
}
console.log(JSON.stringify({ metadata: p.metadata, overflow, samples }));
