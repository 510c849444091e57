'use strict';
// Production configuration and continuous profiling in Node: the same
// environment variables, clamping and errors as every runtime (the core
// reads them), `node --require polyprof/auto`, windows exported on time with
// flat memory, and the local store.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const polyprof = require('../..');
const { REPO, tmpdir, workInBursts } = require('./helpers');

const AUTO = path.join(REPO, 'node/lib/auto.js');
// Burns CPU for argv[1] seconds, then says what auto-start did.
const APP = `
const auto = require(${JSON.stringify(AUTO)});
const t = Date.now(); let x = 0;
while (Date.now() - t < Number(process.argv[1]) * 1000) x += Math.sqrt(x + 1);
console.log(JSON.stringify({ running: !!(auto.profiler && auto.profiler.running), error: auto.error,
  options: auto.profiler ? auto.profiler._core : null }));`;

const VARS = ['ENABLE_PROFILING', 'PROFILE_INTERVAL_MS', 'PROFILE_MAX_DURATION', 'POLYPROF_OPTIONS', 'POLYPROF_STORE'];

function runApp(env, seconds = 0.2) {
  const base = { ...process.env };
  for (const v of VARS) delete base[v];
  const r = spawnSync(process.execPath, ['-e', APP, String(seconds)], { env: { ...base, ...env }, encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  return { out: JSON.parse(r.stdout.trim().split('\n').pop()), err: r.stderr };
}

test('off by default', () => {
  const dir = tmpdir();
  const { out, err } = runApp({ POLYPROF_STORE: dir });
  assert.strictEqual(out.running, false);
  assert.strictEqual(err, '');
  assert.deepStrictEqual(fs.readdirSync(dir), []);
});

test('the environment is read and clamped, with warnings', () => {
  const dir = tmpdir();
  const { out, err } = runApp({
    ENABLE_PROFILING: 'true',
    PROFILE_INTERVAL_MS: '2',
    PROFILE_MAX_DURATION: '900',
    POLYPROF_STORE: dir,
    POLYPROF_OPTIONS: 'service=shop,memory=16m',
  });
  assert.strictEqual(out.running, true, err);
  assert.match(err, /PROFILE_INTERVAL_MS: 2 ms is below the 10 ms minimum/);
  assert.match(err, /PROFILE_MAX_DURATION: 900 s is above the 300 s cap; using 300 s/);
  assert.strictEqual(out.options.interval, '10000000ns');
  assert.strictEqual(out.options.duration, '300000000000ns');
  assert.strictEqual(out.options.memory, String(16 << 20));
  const files = fs.readdirSync(dir);
  assert.ok(files.some((f) => /^shop_cpu_.*_continuous\.pb\.gz$/.test(f)), files.join(', '));
});

test('a bad configuration leaves the program running, unprofiled, and says why', () => {
  const cases = [
    [{ ENABLE_PROFILING: 'maybe' }, "ENABLE_PROFILING='maybe': expected true or false"],
    [{ ENABLE_PROFILING: 'true', PROFILE_INTERVAL_MS: 'fast' }, "PROFILE_INTERVAL_MS='fast'"],
    [{ ENABLE_PROFILING: 'true', PROFILE_MAX_DURATION: '-3' }, "PROFILE_MAX_DURATION='-3'"],
    [{ ENABLE_PROFILING: 'true', POLYPROF_OPTIONS: 'colour=blue' }, "POLYPROF_OPTIONS: unknown option 'colour'"],
    [{ ENABLE_PROFILING: 'true', POLYPROF_STORE: '/proc/no/such/dir' }, 'store: cannot create'],
  ];
  for (const [env, message] of cases) {
    const { out, err } = runApp(env);
    assert.strictEqual(out.running, false);
    assert.ok(out.error.includes(message), out.error);
    assert.ok(err.startsWith('polyprof: profiling stays off: ') && err.includes(message), err);
    assert.strictEqual(err.trim().split('\n').length, 1, err);
  }
});

test('the maximum duration ends every window', () => {
  const dir = tmpdir();
  const { out, err } = runApp(
    { ENABLE_PROFILING: '1', PROFILE_MAX_DURATION: '1', POLYPROF_STORE: dir, POLYPROF_OPTIONS: 'window=60s,service=svc' },
    2.6,
  );
  assert.strictEqual(out.running, true, err);
  const stored = new polyprof.Store(dir).list();
  assert.ok(stored.length >= 3 && stored.length <= 4, JSON.stringify(stored));
  for (let i = 1; i < stored.length; i++) {
    const gap = stored[i].start - stored[i - 1].start;
    assert.ok(gap >= 0.8 && gap <= 1.5, `gap ${gap}`);
  }
});

test('continuous windows go to the exporter, each afresh, memory flat', async () => {
  const windows = [];
  const c = new polyprof.ContinuousProfiler({
    intervalMs: 10,
    windowSeconds: 1,
    exporter: (profile, md) => windows.push({
      md, tableBytes: Number(profile.metadata.table_bytes), n: profile.total(0),
      intervalUs: Number(profile.metadata.budget_interval_us),
    }),
  }).start();
  // The event loop stays free between bursts of work: windows arrive on time.
  await workInBursts(4300);
  assert.ok(windows.length >= 3, `${windows.length} windows before stop`);
  c.stop();
  assert.ok(windows.length >= 4 && windows.length <= 6, JSON.stringify(windows.map((w) => w.md)));
  windows.forEach((w, i) => {
    assert.strictEqual(w.md.trigger, 'continuous');
    assert.strictEqual(w.md.window, i);
    if (i) assert.ok(Math.abs(w.md.start - windows[i - 1].md.end) < 1e-3);
  });
  const full = windows.slice(0, -1);
  // ~100 samples a full window at 10 ms; the 1% CPU budget may lower the
  // rate (a loaded machine makes the handler look dearer): never an empty
  // window, and never far below what the interval in force gives.
  assert.ok(full.every((w) => w.n > 3 && w.n >= 0.2 * (1e6 / w.intervalUs)),
    JSON.stringify(full.map((w) => [w.n, w.intervalUs])));
  const sizes = full.map((w) => w.tableBytes);
  assert.ok(Math.max(...sizes) <= 2 * Math.min(...sizes) + 4096, JSON.stringify(sizes));
  assert.strictEqual(c.running, false);
});

test('an exporter that throws is reported; the windows go on', () => {
  const script = `
    const p = require(${JSON.stringify(REPO)});
    let calls = 0;
    const c = new p.ContinuousProfiler({ intervalMs: 10, windowSeconds: 1, exporter: () => { calls++; throw new Error('backend down'); } }).start();
    setTimeout(() => { c.stop(); console.log('calls', calls); }, 2300);`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /calls 3/);
  assert.match(r.stderr, /continuous profiling exporter failed: Error: backend down/);
});

test('store: list and retention through the core', () => {
  const dir = tmpdir();
  const { out } = runApp({ ENABLE_PROFILING: 'true', POLYPROF_STORE: dir, POLYPROF_OPTIONS: 'service=one' });
  assert.strictEqual(out.running, true);
  const store = new polyprof.Store(dir, { maxAgeSeconds: 3600, maxBytes: 0 });
  const entries = store.list();
  assert.strictEqual(entries.length, 1);
  assert.strictEqual(entries[0].service, 'one');
  assert.ok(fs.existsSync(store.path(entries[0])));
  assert.strictEqual(store.prune(entries[0].start + 1800), 0);
  assert.strictEqual(store.prune(entries[0].start + 7200), 1);
  assert.deepStrictEqual(store.list(), []);
  assert.throws(() => new polyprof.Store('/proc/no/such').list(), { name: 'PolyprofError', message: /cannot create/ });
});

test('the CPU budget lowers the rate; the overhead is in the metadata and the stats', () => {
  const script = `
    const p = require(${JSON.stringify(REPO)});
    const native = require(${JSON.stringify(path.join(REPO, 'node/lib/native.js'))});
    const s = new p.ContinuousProfiler({ intervalMs: 1, windowSeconds: 60, exporter: (prof) => {
      console.log(JSON.stringify({ md: prof.metadata }));
    } });
    s._core.cpu_budget = '0.0001%'; // a budget no sampler can keep
    s.start();
    const t = Date.now(); let x = 0;
    while (Date.now() - t < 3200) x += Math.sqrt(x + 1);
    console.log(JSON.stringify({ stats: native.coreStats() }));
    s.stop();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const { stats } = lines.find((l) => l.stats);
  const { md } = lines.find((l) => l.md);
  // The first second (start-up) is not judged; then it doubles each second.
  assert.ok(stats.intervalNs >= 2e6, JSON.stringify(stats));
  assert.ok(stats.overheadPct > 0);
  assert.ok(Number(md.overhead_pct) > 0 && Number(md.budget_interval_us) >= 2000, JSON.stringify(md));
});

test('options in the core grammar reach the sampler: memory cap and CPU budget in the metadata', () => {
  polyprof.start({ mode: 'cpu', intervalMs: 5, options: 'memory=2m,cpu_budget=50%' });
  const t = Date.now();
  let x = 0;
  while (Date.now() - t < 200) x += Math.sqrt(x + 1);
  const p = polyprof.stop();
  assert.ok(/memory=2048k/.test(p.metadata.options), p.metadata.options);
  assert.strictEqual(Number(p.metadata.cpu_budget_pct), 50);
  assert.ok(Number(p.metadata.table_bytes) <= 2 << 20);
  assert.ok('dropped_memory_cap' in p.metadata);
});

test('the memory cap is enforced; dropped samples are counted and shown as a frame', () => {
  // TurboFan would inline the small functions into one frame; the cap, not
  // inlining, is under test here.
  const r = spawnSync(
    process.execPath,
    ['--no-turbo-inlining', path.join(__dirname, 'workloads/many_stacks.js'), 'memory=1m', '4.5'],
    { encoding: 'utf8' },
  );
  assert.strictEqual(r.status, 0, r.stderr);
  const { metadata: md, overflow, samples } = JSON.parse(r.stdout.trim().split('\n').pop());
  assert.ok(Number(md.dropped_memory_cap) > 0, JSON.stringify(md));
  assert.ok(Number(md.table_bytes) <= 1 << 20);
  assert.strictEqual(overflow, Number(md.dropped_memory_cap));
  assert.strictEqual(samples, Number(md.samples_weight));
});

test('continuous windows and triggered captures name JavaScript functions', () => {
  // Both start the sampler on the core's threads: V8's code events must be on
  // for the JavaScript frames to be named.
  const script = `
    const p = require(${JSON.stringify(REPO)});
    function hotInWindow() { let x = 0; for (let i = 0; i < 2e5; i++) x += Math.sqrt(i); return x; }
    const names = (prof) => new Set(prof.samples().flatMap((s) => s.frames.map((f) => f.name)));
    const seen = {};
    const c = new p.ContinuousProfiler({ intervalMs: 10, windowSeconds: 1,
      exporter: (prof) => { seen.window = seen.window || names(prof).has('hotInWindow'); } }).start();
    const t = new p.TriggeredProfiler({ profileDurationSeconds: 0.8, intervalMs: 10,
      exporter: (prof) => { seen.capture = names(prof).has('hotInWindow'); } });
    const end = Date.now() + 2500;
    let fired = false;
    (function tick() {
      const slice = Date.now() + 30;
      while (Date.now() < slice) hotInWindow();
      if (!fired && Date.now() > end - 1200) fired = t.trigger('test');
      if (Date.now() < end) return setTimeout(tick, 1);
      t.stop(); c.stop(); console.log(JSON.stringify(seen));
    })();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.deepStrictEqual(JSON.parse(r.stdout), { window: true, capture: true });
});
