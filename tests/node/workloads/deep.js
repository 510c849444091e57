'use strict';
// Recursion `depth` deep (argv[2], default 400) under the signal sampler in
// cpu mode; argv[3], when given, is the options string (e.g. depth=64).
// Prints the samples as JSON: [{names (leaf first), count}].
const polyprof = require('../../..');

const DEPTH = Number(process.argv[2] || 400);
const OPTIONS = process.argv[3];

function burnFor(ms) {
  const end = process.cpuUsage().user / 1000 + ms;
  let x = 0;
  while (process.cpuUsage().user / 1000 < end) for (let i = 0; i < 1000; i++) x += i * i;
  return x;
}

function deepest() {
  return burnFor(600);
}

function down(n) {
  if (n === 0) return deepest();
  return down(n - 1) + 1;
}

function rootOfRecursion() {
  return down(DEPTH);
}

polyprof.start({ mode: 'cpu', intervalMs: 2, ...(OPTIONS ? { options: OPTIONS } : {}) });
rootOfRecursion();
const profile = polyprof.stop();
const samples = profile.samples().map((s) => ({ names: s.frames.map((f) => f.name), count: s.values[0] }));
process.stdout.write(JSON.stringify({ samples, metadata: profile.metadata ?? null }) + '\n');
