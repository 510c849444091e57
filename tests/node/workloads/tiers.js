'use strict';
// A call chain outer > middle > inner > (Array.prototype.sort, a builtin) >
// compare > leafwork, profiled in mode 'cpu' for argv[2] ms. Run with
// --allow-natives-syntax: leafwork's callers are kept out of the optimizing
// tiers, so that no inlining merges frames, in whatever tier the node flags
// leave them (--jitless: all interpreted; --always-sparkplug: baseline).
// Prints one line of JSON: samples in leafwork, and how many of them have
// the whole chain, in order, on their stack.
const polyprof = require(process.argv[3]);

function leafwork(n) {
  let s = 0;
  for (let i = 0; i < n; i++) s = (s * 31 + i) % 1000003;
  return s;
}
function compare(a, b) {
  return leafwork(20000) + a - b;
}
function inner(n) {
  return [n, n + 1].sort(compare)[0];
}
function middle(n) {
  return inner(n) + 1;
}
function outer(n) {
  return middle(n) + 1;
}
for (const f of ['outer', 'middle', 'inner', 'compare']) eval(`%NeverOptimizeFunction(${f})`);

const chain = ['outer', 'middle', 'inner', 'compare', 'leafwork'];
polyprof.start({ mode: 'cpu', intervalMs: 2 });
const end = Date.now() + Number(process.argv[2]);
while (Date.now() < end) outer(1);
const profile = polyprof.stop();
let inLeaf = 0;
let whole = 0;
for (const s of profile.samples()) {
  const names = s.frames.map((f) => f.name).reverse(); // root first
  if (!names.includes('leafwork')) continue;
  inLeaf += s.values[0];
  let at = 0;
  for (const n of names) if (n === chain[at]) at++;
  if (at === chain.length) whole += s.values[0];
  else if (process.env.TIERS_DEBUG) console.error(names.join(';'));
}
const stats = require(process.argv[3] + '/node/lib/native').coreStats();
const { samples, v8WalksAfterNative, jsFramesFromNative } = stats;
process.stdout.write(JSON.stringify({ inLeaf, whole, samples, v8WalksAfterNative, jsFramesFromNative }) + '\n');
