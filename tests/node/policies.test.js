'use strict';
// The latency policies from Node, over the core's state machines: the
// circuit breaker on a test clock, the p95 trigger once per cooldown with its
// metadata, the process-wide rate limiter, and the Express-style middleware.
const test = require('node:test');
const assert = require('node:assert');
const http = require('http');
const polyprof = require('../..');
const { tmpdir } = require('./helpers');

function testClock(t = 1000) {
  const clock = () => clock.t;
  clock.t = t;
  return clock;
}

function burn(ms) {
  const t = Date.now();
  let x = 0;
  while (Date.now() - t < ms) x += Math.sqrt(x + 1);
  return x;
}

test('breaker: 3 violations trip it, the cooldown closes it', () => {
  const clock = testClock();
  const b = new polyprof.CircuitBreaker({ maxLatencyIncreasePct: 5, violationThreshold: 3, cooldownSeconds: 60, clock });
  for (let i = 0; i < 30; i++) b.recordLatency(100); // not profiling: the baseline
  assert.ok(Math.abs(b.state.baselineMs - 100) < 1e-6);
  polyprof.start({ mode: 'cpu' });
  try {
    assert.strictEqual(b.recordLatency(104), false);
    assert.strictEqual(b.recordLatency(120), false);
    assert.strictEqual(b.recordLatency(120), false);
    assert.strictEqual(b.recordLatency(101), false); // a good check takes one back
    assert.strictEqual(b.recordLatency(120), false);
    assert.strictEqual(b.recordLatency(120), true);
  } finally {
    polyprof.stop();
  }
  assert.deepStrictEqual([b.isOpen, b.trips, b.state.lastTrip], [true, 1, 1000]);
  clock.t += 59;
  assert.strictEqual(b.canProfile(), false);
  clock.t += 1;
  assert.strictEqual(b.canProfile(), true);
  assert.throws(() => new polyprof.CircuitBreaker({ violationThreshold: 0 }), { name: 'PolyprofError', message: /violation_threshold/ });
});

test('breaker with a given baseline stops what it guards', () => {
  const b = new polyprof.CircuitBreaker({ cooldownSeconds: 10, clock: testClock() });
  const c = b.guard(new polyprof.ContinuousProfiler({ intervalMs: 10, windowSeconds: 60, exporter: () => {} }).start());
  assert.strictEqual(b.recordLatency(300, 200), false);
  assert.strictEqual(b.recordLatency(300, 200), false);
  assert.strictEqual(b.recordLatency(300, 200), true);
  assert.strictEqual(c.running, false);
});

test('p95 trigger: once per cooldown, with its metadata', async () => {
  polyprof.configureRateLimit(10, 3600);
  const clock = testClock();
  const got = [];
  const t = new polyprof.TriggeredProfiler({
    latencyThresholdMs: 500,
    cooldownSeconds: 300,
    profileDurationSeconds: 0.3,
    intervalMs: 10,
    exporter: (profile, md) => got.push({ md, n: profile.total(0) }),
    clock,
  });
  for (let i = 0; i < 19; i++) assert.strictEqual(t.recordLatency(900), false); // fewer than 20
  assert.strictEqual(t.recordLatency(900), true);
  burn(400);
  await t.wait();
  assert.strictEqual(got.length, 1);
  const { md, n } = got[0];
  assert.deepStrictEqual([md.trigger, md.p95, md.thresholdMs], ['p95', 900, 500]);
  assert.ok(Math.abs(md.end - md.start - 0.3) < 0.15, JSON.stringify(md));
  assert.ok(n > 5, `${n} samples`);
  clock.t += 299;
  assert.strictEqual(t.recordLatency(900), false); // cooldown
  clock.t += 1;
  assert.strictEqual(t.recordLatency(900), true);
  t.stop(); // ends it now; exported before stop returns
  assert.strictEqual(got.length, 2);
});

test('the rate limiter is shared by every trigger; captures go to the store', async () => {
  polyprof.configureRateLimit(1, 300);
  const dir = tmpdir();
  const a = new polyprof.TriggeredProfiler({ profileDurationSeconds: 0.1, store: dir, service: 'api' });
  const b = new polyprof.TriggeredProfiler({ latencyThresholdMs: 10, cooldownSeconds: 0, profileDurationSeconds: 0.1, store: dir });
  assert.strictEqual(a.trigger('deploy'), true);
  assert.strictEqual(b.trigger('manual'), false); // the window's one capture is taken
  for (let i = 0; i < 25; i++) assert.strictEqual(b.recordLatency(50), false);
  burn(150);
  await a.wait();
  const stored = new polyprof.Store(dir).list();
  assert.deepStrictEqual(stored.map((e) => [e.service, e.trigger]), [['api', 'deploy']]);
  assert.throws(() => polyprof.configureRateLimit(0, 60), { name: 'PolyprofError' });
});

test('latencyMiddleware reports every response to the breaker and the trigger', async () => {
  const clock = testClock();
  const breaker = new polyprof.CircuitBreaker({ clock });
  const seen = [];
  const triggered = { recordLatency: (ms) => seen.push(ms) };
  const mw = polyprof.latencyMiddleware({ breaker, triggered });
  const server = http.createServer((req, res) => mw(req, res, () => setTimeout(() => res.end('ok'), 20)));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  for (let i = 0; i < 3; i++) {
    await new Promise((resolve, reject) =>
      http.get({ host: '127.0.0.1', port, path: '/' }, (res) => res.resume().on('end', resolve)).on('error', reject),
    );
  }
  server.close();
  assert.strictEqual(seen.length, 3);
  assert.ok(seen.every((ms) => ms >= 15 && ms < 2000), JSON.stringify(seen));
  assert.ok(breaker.state.baselineMs >= 15, JSON.stringify(breaker.state)); // learned outside profiling
});

test('scheduled triggers go through the rate limit', async () => {
  polyprof.configureRateLimit(2, 3600);
  const got = [];
  const t = new polyprof.TriggeredProfiler({
    profileDurationSeconds: 0.05,
    exporter: (p, md) => got.push(md.trigger),
    scheduleEveryMinutes: 0.002, // every 120 ms
  });
  await new Promise((r) => setTimeout(r, 700));
  t.stop();
  await new Promise((r) => setTimeout(r, 100));
  assert.deepStrictEqual(got, ['scheduled', 'scheduled']); // 5 attempts, 2 allowed
  assert.throws(() => new polyprof.TriggeredProfiler({ scheduleEveryMinutes: 0 }), { name: 'PolyprofError', message: /scheduleEveryMinutes/ });
});
