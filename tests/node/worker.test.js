'use strict';
// Mode 'v8' profiles the thread that starts it: a worker profiles itself,
// labelled by its threadId. Workers that exit while a profile is still
// running, or while Profile objects are alive, must not crash the process
// (the addon's environment teardown stops and frees them).
const test = require('node:test');
const assert = require('node:assert');
const { Worker } = require('worker_threads');
const path = require('path');

const REPO = path.resolve(__dirname, '../..');
const BURN = path.join(__dirname, 'workloads/burn.js');

function runWorker(source) {
  return new Promise((resolve, reject) => {
    const w = new Worker(source, { eval: true, workerData: { REPO, BURN } });
    const { threadId } = w; // -1 once it has exited
    let message;
    w.on('message', (m) => (message = m));
    w.on('error', reject);
    w.on('exit', (code) => (code === 0 ? resolve({ message, threadId }) : reject(new Error(`exit ${code}`))));
  });
}

test('a worker profiles itself, labelled by its threadId', async () => {
  const { message, threadId } = await runWorker(`
    const { workerData, parentPort } = require('worker_threads');
    const polyprof = require(workerData.REPO);
    const { burnA } = require(workerData.BURN);
    polyprof.start({ intervalMs: 1 });
    burnA(5e6);
    const p = polyprof.stop();
    parentPort.postMessage(p.samples().map((s) => [s.labels.thread_name, s.frames.map((f) => f.name)]));`);
  assert.ok(message.length > 0);
  for (const [name] of message) assert.strictEqual(name, `worker ${threadId}`);
  assert.ok(message.some(([, frames]) => frames.includes('burnA')));
});

test('workers exiting mid-profile, with live profiles, never crash the process', async () => {
  const source = `
    const { workerData } = require('worker_threads');
    const polyprof = require(workerData.REPO);
    const { burnA } = require(workerData.BURN);
    polyprof.start({ intervalMs: 1 });
    burnA(2e5);
    globalThis.kept = polyprof.stop();            // a Profile alive at exit
    polyprof.start({ intervalMs: 1 });            // a V8 profile still running at exit
    polyprof.profileEndpoint(function h() { burnA(1e5); }, { durationSeconds: 60, output: () => {} })();`;
  for (let round = 0; round < 3; round++) {
    await Promise.all(Array.from({ length: 8 }, () => runWorker(source)));
  }
});
