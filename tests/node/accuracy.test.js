'use strict';
// Two functions burning CPU 3:1: the profile's shares must be within 5
// percentage points of the truth the workload measures itself
// (process.cpuUsage around each call), like the async-profiler and Go tests.
const test = require('node:test');
const assert = require('node:assert');
const polyprof = require('../..');
const { burnA, burnB, iterationsFor, cpuOf, timeIn } = require('./workloads/burn');

for (const [mode, intervalMs, timeType] of [
  ['cpu', 2, 'cpu'],
  ['v8', 1, 'wall'],
]) {
test(`mode ${mode}: 3:1 CPU burners get shares within 5 points of the truth`, () => {
  const unit = iterationsFor(10); // ~10 ms of CPU
  let cpuA = 0;
  let cpuB = 0;
  polyprof.start({ intervalMs, mode });
  for (let round = 0; round < 40; round++) {
    cpuA += cpuOf(() => burnA(3 * unit));
    cpuB += cpuOf(() => burnB(unit));
  }
  const profile = polyprof.stop();
  const truthA = cpuA / (cpuA + cpuB);
  const tA = timeIn(profile, 'burnA');
  const tB = timeIn(profile, 'burnB');
  const measuredA = tA / (tA + tB);
  const nA = timeIn(profile, 'burnA', 0);
  const nB = timeIn(profile, 'burnB', 0);
  const line =
    `burnA share: truth ${(100 * truthA).toFixed(1)}% (CPU ${(cpuA / 1000).toFixed(0)}ms vs ${(cpuB / 1000).toFixed(0)}ms), ` +
    `profile ${(100 * measuredA).toFixed(1)}% by time, ${((100 * nA) / (nA + nB)).toFixed(1)}% by samples (${nA}+${nB})`;
  console.log(line);
  // The kernel delivers CPU-timer signals at most every tick (4 ms at 250 Hz);
  // samples then carry the elapsed intervals as their weight.
  assert.ok(nA + nB >= 150, `too few samples to judge: ${nA + nB}`);
  assert.ok(Math.abs(measuredA - truthA) <= 0.05, line);
  assert.deepStrictEqual(profile.valueTypes, [
    ['samples', 'count'],
    [timeType, 'nanoseconds'],
  ]);
  const labels = profile.samples()[0].labels;
  assert.strictEqual(labels.thread_name, 'main');
  assert.strictEqual(typeof labels.thread_id, 'number');
});
}
