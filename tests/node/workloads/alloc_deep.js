'use strict';
// Allocations `depth` calls deep (argv[2], default 400) under mode 'alloc';
// argv[3], when given, is the options string (e.g. depth=64). Prints the
// samples as JSON: [{names (leaf first), bytes (alloc_space)}] and the
// profile's metadata. Run with --no-opt, so no frame is inlined away.
const polyprof = require('../../..');

const DEPTH = Number(process.argv[2] || 400);
const OPTIONS = process.argv[3];
const ring = new Array(64);
let slot = 0;

function allocateAtTheBottom(n) {
  for (let i = 0; i < n; i++) ring[slot++ & 63] = new Array(30).fill(i);
}

function down(n) {
  if (n === 0) return allocateAtTheBottom(200000);
  return down(n - 1);
}

function rootOfRecursion() {
  return down(DEPTH);
}

const session = polyprof.start({ mode: 'alloc', allocInterval: '32k', ...(OPTIONS ? { options: OPTIONS } : {}) });
rootOfRecursion();
const profile = session.stop();
const index = profile.valueTypes.findIndex(([t]) => t === 'alloc_space');
const samples = profile.samples().map((s) => ({ names: s.frames.map((f) => f.name), bytes: s.values[index] }));
process.stdout.write(JSON.stringify({ samples, metadata: profile.metadata ?? null }) + '\n');
