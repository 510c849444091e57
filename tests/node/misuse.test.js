'use strict';
// Misuse fails loudly with a message that says what to do.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const polyprof = require('../..');
const { PolyprofError } = polyprof;
const { burnA, iterationsFor } = require('./workloads/burn');
const { tmpdir } = require('./helpers');

test('stop without start, double start', () => {
  assert.throws(() => polyprof.stop(), { name: 'PolyprofError', message: /stop\(\) called without polyprof\.start\(\)/ });
  polyprof.start();
  try {
    assert.ok(polyprof.isRunning());
    assert.throws(() => polyprof.start(), { name: 'PolyprofError', message: /called twice.*call polyprof\.stop\(\) first/ });
  } finally {
    polyprof.stop();
  }
  assert.ok(!polyprof.isRunning());
  assert.throws(() => polyprof.stop(), PolyprofError);
});

test('bad options name the option, with the core message', () => {
  const cases = [
    [{ intervalMs: 0 }, /intervalMs=0: option 'interval'.*at least 100us/],
    [{ intervalMs: 1e9 }, /intervalMs=1000000000: option 'interval'/],
    [{ mode: 'sometimes' }, /mode="sometimes": option 'event': invalid value 'sometimes'.*'v8'/],
    [{ durationSeconds: -1 }, /durationSeconds must be a non-negative number/],
    [{ interval: 10 }, /unknown option 'interval' \(known: intervalMs, mode, native, durationSeconds, allocInterval, options\)/],
    [{ mode: 'v8', native: true }, /native: true needs signal-based sampling/],
  ];
  cases.push([{ options: 'colour=blue' }, /options="colour=blue": unknown option 'colour'/]);
  cases.push([{ options: 'memory=lots' }, /option 'memory': invalid value 'lots'/]);
  // Keys the structured options set are refused in the string, not overridden.
  cases.push([{ options: 'interval=1ms' }, /options="interval=1ms": 'interval' is set by intervalMs, not in options/]);
  cases.push([{ options: 'memory=32m,event=wall' }, /'event' is set by mode/]);
  for (const [opts, message] of cases) assert.throws(() => polyprof.start(opts), { name: 'PolyprofError', message });
  assert.throws(() => polyprof.start({ options: 42 }), TypeError);
  assert.throws(() => polyprof.start({ intervalMs: '10' }), TypeError);
  assert.throws(() => polyprof.start({ native: 'no' }), TypeError);
  assert.throws(() => polyprof.start('fast'), TypeError);
  assert.ok(!polyprof.isRunning(), 'nothing started');
});

test('one sampler per process: a second session must ask for the same mode', async () => {
  polyprof.start({ mode: 'cpu' });
  try {
    await assert.rejects(polyprof.profile(() => {}, { mode: 'wall' }), {
      name: 'PolyprofError',
      message: /already running in cpu mode; a wall profile cannot share it/,
    });
    // The same mode shares the running sampler; mode 'v8' is independent.
    const inner = await polyprof.profile(() => burnA(1000), { mode: 'cpu' });
    assert.ok(inner instanceof polyprof.Profile);
    const v8 = await polyprof.profile(() => burnA(1000), { mode: 'v8' });
    assert.ok(v8 instanceof polyprof.Profile);
  } finally {
    polyprof.stop();
  }
  assert.ok(!polyprof.isRunning());
});

test('unknown formats and unwritable outputs', async () => {
  polyprof.start();
  const p = polyprof.stop();
  const dir = tmpdir();
  assert.throws(() => p.write(path.join(dir, 'out.json')), { name: 'PolyprofError', message: /suffix '\.json'.*\.cpuprofile/ });
  assert.throws(() => p.write(path.join(dir, 'out')), { name: 'PolyprofError', message: /no suffix/ });
  assert.throws(() => p.write(path.join(dir, 'out.pb.gz'), 'json'), { name: 'PolyprofError', message: /format.*'json'/ });
  assert.throws(() => p.write(42), TypeError);
  assert.throws(() => p.write(path.join(dir, 'missing', 'out.pb.gz')), Error);
  assert.throws(() => p.report(0), { name: 'PolyprofError', message: /top must be a positive/ });
  p.write(path.join(dir, 'explicit.data'), 'collapsed'); // a format name overrides the suffix
  assert.ok(fs.statSync(path.join(dir, 'explicit.data')).size >= 0);
  // profile() checks its output before running anything
  let ran = false;
  await assert.rejects(
    polyprof.profile(() => {
      ran = true;
    }, { output: path.join(dir, 'no', 'such', 'dir.pb.gz') }),
    { name: 'PolyprofError', message: /directory .* does not exist/ },
  );
  await assert.rejects(polyprof.profile(() => {}, { output: path.join(dir, 'x.bin') }), /suffix '\.bin'/);
  assert.ok(!ran);
  await assert.rejects(polyprof.profile('not a function'), TypeError);
});

for (const mode of ['cpu', 'v8']) {
  test(`mode ${mode}: durationSeconds stops collecting; stop() still returns the profile`, () => {
    const unit = iterationsFor(10);
    polyprof.start({ intervalMs: mode === 'cpu' ? 2 : 1, durationSeconds: 0.1, mode });
    const t0 = Date.now();
    while (Date.now() - t0 < 400) burnA(unit);
    const p = polyprof.stop();
    assert.ok(p.durationSeconds <= 0.11, `duration ${p.durationSeconds}`);
    // CPU time of every thread of the process, on at most 2 cores here; wall
    // time of one thread in mode v8.
    const limit = mode === 'cpu' ? 0.22e9 : 0.11e9;
    assert.ok(p.total(1) <= limit, `time total ${p.total(1)}`);
    assert.ok(p.total(0) > 0);
  });
}

test('profile() returns the profile and writes it even when fn throws', async () => {
  const dir = tmpdir();
  const out = path.join(dir, 'block.cpuprofile');
  const unit = iterationsFor(5);
  const p = await polyprof.profile(async () => burnA(4 * unit), { output: out, intervalMs: 1 });
  assert.ok(p instanceof polyprof.Profile);
  assert.ok(p.samples().some((s) => s.frames.some((f) => f.name === 'burnA')));
  assert.ok(JSON.parse(fs.readFileSync(out, 'utf8')).samples.length > 0);
  const out2 = path.join(dir, 'fail.pb.gz');
  await assert.rejects(
    polyprof.profile(() => {
      throw new Error('boom');
    }, { output: out2 }),
    /boom/,
  );
  assert.ok(fs.existsSync(out2));
  // profile() runs beside start()/stop(): two collectors of one sampler
  polyprof.start();
  await polyprof.profile(() => burnA(unit));
  assert.ok(polyprof.stop().total(0) >= 0);
});

test('Profile objects are made by polyprof, not by hand', () => {
  polyprof.start();
  const p = polyprof.stop();
  const NativeProfile = Object.getPrototypeOf(p._native).constructor;
  assert.throws(() => new NativeProfile(), { name: 'TypeError', message: /come from stop\(\)/ });
  assert.throws(() => NativeProfile.prototype.report.call({}, 5), TypeError); // V8 checks the receiver
});
