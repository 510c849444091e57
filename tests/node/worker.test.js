'use strict';
// Modes 'cpu' and 'wall' sample the whole process: a worker's JavaScript
// frames are recorded once it has loaded polyprof, labelled "worker <id>".
// Mode 'v8' profiles the thread that starts it. Workers that start and exit
// while profiling, exit while a profile is still running, or while Profile
// objects are alive, must not crash the process (the addon's environment
// teardown stops and frees what the worker started).
const test = require('node:test');
const assert = require('node:assert');
const { Worker } = require('worker_threads');
const path = require('path');

const REPO = path.resolve(__dirname, '../..');
const BURN = path.join(__dirname, 'workloads/burn.js');

function runWorker(source, extra = {}) {
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: { REPO, BURN, ...extra } });
    const { threadId } = w; // -1 once it has exited
    let message;
    w.on('message', (m) => (message = m));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve({ message, threadId }) : reject(new Error(`exit ${code}`))));
  });
}

test('mode v8: a worker profiles itself, labelled by its threadId', async () => {
  const { message, threadId } = await runWorker(`
    const { workerData, parentPort } = require('worker_threads');
    const polyprof = require(workerData.REPO);
    const { burnA } = require(workerData.BURN);
    polyprof.start({ intervalMs: 1, mode: 'v8' });
    burnA(5e6);
    const p = polyprof.stop();
    parentPort.postMessage(p.samples().map((s) => [s.labels.thread_name, s.frames.map((f) => f.name)]));`);
  assert.ok(message.length > 0);
  for (const [name] of message) assert.strictEqual(name, `worker ${threadId}`);
  assert.ok(message.some(([, frames]) => frames.includes('burnA')));
});

for (const mode of ['cpu', 'v8']) {
  test(`mode ${mode}: workers exiting mid-profile, with live profiles, never crash the process`, async () => {
    const source = `
      const { workerData } = require('worker_threads');
      const polyprof = require(workerData.REPO);
      const { burnA } = require(workerData.BURN);
      polyprof.start({ intervalMs: 1, mode: workerData.mode });
      burnA(2e5);
      globalThis.kept = polyprof.stop();            // a Profile alive at exit
      polyprof.start({ intervalMs: 1, mode: workerData.mode }); // still running at exit
      polyprof.profileEndpoint(function h() { burnA(1e5); }, { durationSeconds: 60, output: () => {} })();`;
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 8 }, () => runWorker(source, { mode })));
    }
  });
}

test('mode cpu: 20 workers x 5 rounds start, burn and exit under a process-wide profile', async () => {
  const polyprof = require(REPO);
  const source = `
    const { workerData } = require('worker_threads');
    require(workerData.REPO);                        // registers this isolate
    const { burnA } = require(workerData.BURN);
    burnA(workerData.rounds);`;
  polyprof.start({ intervalMs: 1, mode: 'cpu' });
  const ids = new Set();
  let p;
  try {
    for (let round = 0; round < 5; round++) {
      const runs = Array.from({ length: 20 }, () => runWorker(source, { rounds: 2e6 }));
      for (const { threadId } of await Promise.all(runs)) ids.add(`worker ${threadId}`);
    }
  } finally {
    p = polyprof.stop();
  }
  const inWorkers = p.samples().filter((s) => ids.has(s.labels.thread_name));
  assert.ok(inWorkers.length > 0, 'samples labelled with the workers');
  const js = inWorkers.filter((s) => s.frames.some((f) => f.name === 'burnA'));
  assert.ok(js.length > 0, "the workers' JavaScript frames (burnA) are in the profile");
  // 20 busy workers on a 2-core machine can starve the drain thread for a
  // moment: a full ring is counted, never silent, and must stay rare.
  const dropped = Number(p.metadata.dropped_ring_full ?? 0);
  assert.ok(dropped <= 0.05 * Number(p.metadata.samples_taken), `dropped ${dropped} of ${p.metadata.samples_taken}`);
});
