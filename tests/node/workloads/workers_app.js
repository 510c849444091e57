'use strict';
// A program whose work runs in worker threads, for `polyprof record`: the
// preload registers each worker's isolate, so their JavaScript is sampled.
const { Worker, isMainThread, workerData } = require('worker_threads');
const { burnA, iterationsFor } = require('./burn');

if (isMainThread) {
  const unit = iterationsFor(5);
  const runs = Array.from({ length: 3 }, () => new Promise((resolve, reject) => {
    const w = new Worker(__filename, { workerData: { unit } });
    w.on('error', reject);
    w.on('exit', resolve);
  }));
  Promise.all(runs).then(() => process.stdout.write('workers done\n'));
} else {
  for (let i = 0; i < 20; i++) burnA(workerData.unit);
}
