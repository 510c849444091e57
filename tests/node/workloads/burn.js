'use strict';
// CPU-burning functions with known costs for the Node tests. Each has its own
// loop (no shared callee) so its samples are its own whatever V8 inlines.

function burnA(iterations) {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + Math.sqrt(i + 1)) % 1e9;
  return x;
}

function burnB(iterations) {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + Math.sqrt(i + 2)) % 1e9;
  return x;
}

function burnC(iterations) {
  let x = 0;
  for (let i = 0; i < iterations; i++) x = (x + Math.sqrt(i + 3)) % 1e9;
  return x;
}

// Iterations of burnA that take about `ms` of CPU on this machine.
function iterationsFor(ms) {
  burnA(2e5); // let V8 optimize the loop before timing it
  const n = 1e6;
  const t0 = process.cpuUsage();
  burnA(n);
  const d = process.cpuUsage(t0);
  const usPer = (d.user + d.system) / n;
  return Math.max(1e4, Math.round((ms * 1000) / Math.max(usPer, 1e-6)));
}

// CPU microseconds (user + system) that fn() takes.
function cpuOf(fn) {
  const t0 = process.cpuUsage();
  fn();
  const d = process.cpuUsage(t0);
  return d.user + d.system;
}

// Sum of value `index` over the samples whose stack has a frame named `name`.
function timeIn(profile, name, index = 1) {
  let t = 0;
  for (const s of profile.samples()) if (s.frames.some((f) => f.name === name)) t += s.values[index];
  return t;
}

module.exports = { burnA, burnB, burnC, iterationsFor, cpuOf, timeIn };
