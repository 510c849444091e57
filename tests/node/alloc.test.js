'use strict';
// Mode 'alloc': V8's sampling heap profiler as alloc_objects/alloc_space and
// inuse_objects/inuse_space (Go's heap profile), written by the core's
// writers. Workloads run in a child with --no-opt (tests/node/workloads/alloc.js)
// so no inlining moves an allocation into its caller.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawnSync, execFileSync } = require('child_process');
const polyprof = require('../..');
const { REPO, findGo, checkPprof, tmpdir } = require('./helpers');

const WORKLOAD = path.join(__dirname, 'workloads/alloc.js');
const CLI = path.join(REPO, 'node/lib/cli.js');

// --max-semi-space-size: garbage counts as in use until the next scavenge,
// so the young generation's size bounds how much of it a profile shows.
// V8 sizes it by itself and Node 24's grows large enough (about 30 MB of the
// leak scenario's churn was still there at stop, against 7 MB with 8 MB
// semi-spaces) to blur the leak; pinned, the workloads mean the same on
// every Node.
function runWorkload(scenario, out, ...more) {
  const r = spawnSync(process.execPath, ['--no-opt', '--max-semi-space-size=8', WORKLOAD, scenario, out, ...more], {
    encoding: 'utf8',
  });
  assert.strictEqual(r.status, 0, r.stderr);
  return polyprof.load(out);
}

// Sum of value `type` over the stacks that pass through function `name`.
function valueIn(prof, name, type) {
  const index = prof.valueTypes.findIndex(([t]) => t === type);
  assert.ok(index >= 0, `no ${type} in ${JSON.stringify(prof.valueTypes)}`);
  return prof
    .samples()
    .filter((s) => s.frames.some((f) => f.name === name))
    .reduce((sum, s) => sum + s.values[index], 0);
}

function share(prof, a, b, type) {
  const va = valueIn(prof, a, type);
  const vb = valueIn(prof, b, type);
  assert.ok(va + vb > 0, `no ${type} in ${a} or ${b}`);
  return va / (va + vb);
}

// stop()'s profiles, as Python's and the JVM agent's allocation profiles:
// alloc_space last, the value reports and pprof show by default.
const STOP_TYPES = [
  ['inuse_objects', 'count'],
  ['inuse_space', 'bytes'],
  ['alloc_objects', 'count'],
  ['alloc_space', 'bytes'],
];

test('3:1 allocators by bytes: alloc_space and alloc_objects shares within 10 points', () => {
  const prof = runWorkload('ratio', path.join(tmpdir(), 'ratio.pb.gz'));
  assert.deepStrictEqual(prof.valueTypes, STOP_TYPES);
  const bytes = share(prof, 'allocA', 'allocB', 'alloc_space');
  const objects = share(prof, 'allocA', 'allocB', 'alloc_objects');
  console.log(`allocA share: ${(100 * bytes).toFixed(1)}% of bytes, ${(100 * objects).toFixed(1)}% of objects (truth 75%)`);
  assert.ok(Math.abs(bytes - 0.75) <= 0.1, `alloc_space share ${bytes}`);
  assert.ok(Math.abs(objects - 0.75) <= 0.1, `alloc_objects share ${objects}`);
  // 400 x 4000 arrays of 30 elements: at least 30 x 8 bytes each, V8's
  // estimate of the total must be of that order, not off by the interval.
  const total = valueIn(prof, 'allocA', 'alloc_space') + valueIn(prof, 'allocB', 'alloc_space');
  assert.ok(total > 1.6e6 * 240 * 0.8 && total < 1.6e6 * 240 * 3, `alloc_space total ${total}`);
  const md = prof.metadata;
  assert.strictEqual(md.sampler, 'v8-sampling-heap-profiler');
  assert.ok(md.samples_taken > 1000, `samples_taken ${md.samples_taken}`);
  assert.match(md.options, /^event=alloc,alloc_interval=65536,/);
});

test('a leak dominates inuse_space; garbage at the same rate shows in alloc_space only', () => {
  const prof = runWorkload('leak', path.join(tmpdir(), 'leak.pb.gz'));
  const allocShare = share(prof, 'leaky', 'churn', 'alloc_space');
  const inuseShare = share(prof, 'leaky', 'churn', 'inuse_space');
  console.log(`leaky share: ${(100 * allocShare).toFixed(1)}% of alloc_space, ${(100 * inuseShare).toFixed(1)}% of inuse_space`);
  assert.ok(Math.abs(allocShare - 0.5) <= 0.1, `same allocation rate, alloc_space share ${allocShare}`);
  // Garbage not collected yet (the young generation since the last
  // scavenge) still counts as in use, as in Go's heap profile.
  assert.ok(inuseShare >= 0.85, `the leak holds the live heap: inuse_space share ${inuseShare}`);
  const kept = (name) => valueIn(prof, name, 'inuse_space') / valueIn(prof, name, 'alloc_space');
  console.log(`still in use: leaky ${(100 * kept('leaky')).toFixed(1)}%, churn ${(100 * kept('churn')).toFixed(1)}%`);
  assert.ok(kept('leaky') >= 0.8, `leaky keeps what it allocates: ${kept('leaky')}`);
  assert.ok(kept('churn') <= 0.2, `churn keeps little: ${kept('churn')}`);
  // What leaky retains: 300 x 1000 arrays of 30 elements, at least 72 MB.
  const retained = valueIn(prof, 'leaky', 'inuse_space');
  assert.ok(retained > 300e3 * 240 * 0.8, `inuse_space of leaky ${retained}`);
});

// pprof -top's flat% of `name` (the row ending in the function's name), or null.
function flatPercent(top, name) {
  const m = top.match(new RegExp(`^\\s*\\S+\\s+([\\d.]+)%.*\\s${name}$`, 'm'));
  return m ? Number(m[1]) : null;
}

test('go tool pprof -top ranks the 3x allocator first, by alloc_space by default', () => {
  const file = path.join(tmpdir(), 'ratio.pb.gz');
  runWorkload('ratio', file, '256k');
  const go = findGo();
  const pprofTop = (...flags) =>
    execFileSync(go, ['tool', 'pprof', ...flags, '-top', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // No -sample_index: pprof's default is the last value, alloc_space.
  for (const top of [pprofTop('-sample_index=alloc_space'), pprofTop()]) {
    assert.match(top, /Type: alloc_space/);
    const a = top.search(/allocA\n/);
    const b = top.search(/allocB\n/);
    assert.ok(a >= 0 && b >= 0, top);
    assert.ok(a < b, `allocA (3x the bytes) ranked above allocB:\n${top}`);
    const pa = flatPercent(top, 'allocA');
    const pb = flatPercent(top, 'allocB');
    console.log(`pprof -top flat: allocA ${pa}%, allocB ${pb}% (truth 75:25)`);
    assert.ok(Math.abs(pa / (pa + pb) - 0.75) <= 0.1, `allocA's share of the two ${pa / (pa + pb)}`);
  }
  const inuse = pprofTop('-sample_index=inuse_space');
  assert.match(inuse, /Type: inuse_space/);
  const summary = checkPprof(file);
  assert.deepStrictEqual(
    summary.sample_types.map(([type, unit]) => `${type}/${unit}`),
    STOP_TYPES.map(([type, unit]) => `${type}/${unit}`),
  );
});

test('a CPU and an allocation session at once, each stopped through its own handle', () => {
  const out = path.join(tmpdir(), 'both.pb.gz');
  const alloc = runWorkload('both', out);
  assert.ok(valueIn(alloc, 'allocA', 'alloc_space') > 0);
  const cpu = polyprof.load(`${out}.cpu.pb.gz`);
  assert.deepStrictEqual(cpu.valueTypes.map(([t]) => t), ['samples', 'cpu']);
  assert.ok(valueIn(cpu, 'burn', 'cpu') > 0, 'the CPU profile sees the burner');

  // In this process: polyprof.stop() is ambiguous with two running.
  const a = polyprof.start({ mode: 'alloc' });
  const c = polyprof.start({ mode: 'v8' });
  assert.strictEqual(polyprof.isRunning(), true);
  assert.throws(() => polyprof.stop(), { name: 'PolyprofError', message: /two profiles run \(alloc and v8\)/ });
  assert.ok(c.stop() instanceof polyprof.Profile);
  assert.deepStrictEqual(a.stop().valueTypes, STOP_TYPES);
  assert.strictEqual(polyprof.isRunning(), false);
  assert.throws(() => a.stop(), { name: 'PolyprofError', message: /already stopped/ });
});

test('errors: a bad interval names the key, a second allocation session is refused', () => {
  assert.throws(() => polyprof.start({ mode: 'alloc', allocInterval: '12q' }), {
    name: 'PolyprofError',
    message: /allocInterval="12q": option 'alloc_interval': invalid value '12q'/,
  });
  assert.throws(() => polyprof.start({ mode: 'alloc', allocInterval: 0 }), /option 'alloc_interval'/);
  assert.throws(() => polyprof.start({ mode: 'alloc', options: 'alloc_interval=-1' }), /option 'alloc_interval'/);
  assert.throws(() => polyprof.start({ mode: 'cpu', allocInterval: '1m' }), /allocInterval needs mode 'alloc'/);
  assert.strictEqual(polyprof.isRunning(), false, 'nothing started');
  const s = polyprof.start({ mode: 'alloc', allocInterval: 4096 });
  assert.throws(() => polyprof.start({ mode: 'alloc' }), {
    name: 'PolyprofError',
    message: /called twice: an allocation profile is already running/,
  });
  // Another collector of the same isolate must sample at the same rate.
  const other = new polyprof.ContinuousProfiler({ mode: 'alloc', allocInterval: '8k', exporter: () => {} });
  assert.throws(() => other.start(), /option 'alloc_interval': 8192 bytes asked, but .* every 4096 bytes already/);
  const prof = s.stop();
  assert.ok(prof.metadata.options.includes('alloc_interval=4096'));
  assert.throws(() => new polyprof.TriggeredProfiler({ mode: 'alloc' }), /TriggeredProfiler captures where time goes/);
  const r = spawnSync(process.execPath, [CLI, 'record', '--mode', 'alloc', '--alloc-interval', 'x', '--', 'node', WORKLOAD], {
    encoding: 'utf8',
  });
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /^polyprof record: option 'alloc_interval': invalid value 'x'/);
});

test('polyprof record --mode alloc, and the core writes every format', () => {
  const dir = tmpdir();
  const out = path.join(dir, 'rec.pb.gz');
  const app = path.join(dir, 'app.js');
  fs.writeFileSync(app, `const keep = [];\nfunction hoard() { for (let i = 0; i < 2e5; i++) keep.push({ i, s: 'x' + i }); }\nhoard();\n`);
  const r = spawnSync(process.execPath, [CLI, 'record', '--mode', 'alloc', '--alloc-interval', '32k', '-o', out, '--', 'node', app], {
    encoding: 'utf8',
  });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stderr, /^polyprof: wrote .*rec\.pb\.gz \(\d+ samples/);
  const prof = polyprof.load(out);
  assert.deepStrictEqual(prof.valueTypes, STOP_TYPES, 'alloc_space is the default, as in Python');
  assert.ok(valueIn(prof, 'hoard', 'inuse_space') > 0);
  // Both at once, as in Python: the allocation profile next to the output.
  const both = path.join(dir, 'both.pb.gz');
  const r2 = spawnSync(process.execPath, [CLI, 'record', '--mode', 'cpu+alloc', '--alloc-interval', '32k', '-o', both, '--', 'node', app], {
    encoding: 'utf8',
  });
  assert.strictEqual(r2.status, 0, r2.stderr);
  assert.match(r2.stderr, /wrote .*both\.pb\.gz \(\d+ samples.*\n.*wrote .*both\.alloc\.pb\.gz \(/);
  assert.strictEqual(polyprof.load(both).valueTypes[1][0], 'cpu');
  const bothAlloc = polyprof.load(path.join(dir, 'both.alloc.pb.gz'));
  assert.deepStrictEqual(bothAlloc.valueTypes, STOP_TYPES);
  assert.ok(valueIn(bothAlloc, 'hoard', 'alloc_space') > 0);
  // And from start(): one session, both profiles.
  const combined = polyprof.start({ mode: 'v8+alloc', allocInterval: '16k' });
  assert.throws(() => polyprof.start({ mode: 'alloc' }), /called twice/);
  const got = combined.stop();
  assert.deepStrictEqual(Object.keys(got), ['v8', 'alloc']);
  assert.ok(got.alloc instanceof polyprof.Profile);
  assert.deepStrictEqual(got.alloc.valueTypes, STOP_TYPES);
  assert.strictEqual(polyprof.isRunning(), false);
  for (const [file, check] of [
    ['rec.folded', /;hoard \d+\n/],
    ['rec.top', /alloc_space.*\n[\s\S]*hoard/],
    ['rec.html', /<html/i],
  ]) {
    prof.write(path.join(dir, file));
    assert.match(fs.readFileSync(path.join(dir, file), 'utf8'), check, file);
  }
});

test('continuous allocation windows go to the store as type alloc', () => {
  const dir = tmpdir();
  const script = `
    const polyprof = require(${JSON.stringify(REPO)});
    const cont = new polyprof.ContinuousProfiler({ mode: 'alloc', windowSeconds: 1, store: ${JSON.stringify(dir)}, service: 'shop', allocInterval: '64k' }).start();
    const keep = [];
    function grow() { for (let i = 0; i < 2e4; i++) keep.push(new Array(8).fill(i)); }
    const t = setInterval(grow, 50);
    setTimeout(() => { clearInterval(t); const before = cont.windows; cont.stop(); console.log(before); }, 1600);
  `;
  const r = spawnSync(process.execPath, ['--no-opt', '-e', script], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout.trim(), '1', 'one full window before stop()');
  const entries = new polyprof.Store(dir).list();
  assert.strictEqual(entries.length, 2, 'the full window and the last, partial one');
  for (const e of entries) {
    assert.strictEqual(e.type, 'alloc');
    assert.strictEqual(e.trigger, 'continuous');
    assert.match(e.file, /^shop_alloc_\d{8}T\d{6}\.\d{3}Z_continuous\.pb\.gz$/);
  }
  const first = polyprof.load(path.join(dir, entries[0].file));
  assert.deepStrictEqual(first.valueTypes, STOP_TYPES);
  assert.ok(valueIn(first, 'grow', 'alloc_space') > 0);
  const second = polyprof.load(path.join(dir, entries[1].file));
  // The second window allocates less (0.6 s) but still holds the first's arrays.
  assert.ok(valueIn(second, 'grow', 'inuse_space') >= valueIn(first, 'grow', 'inuse_space') * 0.9);
});

test("mode 'cpu+alloc': CPU and allocation windows side by side in the store, as Python's", () => {
  const dir = tmpdir();
  const script = `
    const polyprof = require(${JSON.stringify(REPO)});
    const keep = [];
    function grow() { for (let i = 0; i < 2e4; i++) keep.push(new Array(8).fill(i)); }
    function burn() { const end = Date.now() + 20; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; }
    function run(opts, then) {
      const cont = new polyprof.ContinuousProfiler({ mode: 'cpu+alloc', windowSeconds: 1, intervalMs: 10, allocInterval: '64k', ...opts }).start();
      const t = setInterval(() => { grow(); burn(); }, 50);
      setTimeout(() => { clearInterval(t); cont.stop(); then(); }, 1600);
    }
    const seen = [];
    run({ store: ${JSON.stringify(dir)}, service: 'shop' }, () =>
      run({ exporter: (p, md) => seen.push({ type: md.type ?? null, valueTypes: p.valueTypes.map(([t]) => t) }) }, () =>
        console.log(JSON.stringify(seen))));
  `;
  const r = spawnSync(process.execPath, ['--no-opt', '-e', script], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  const entries = new polyprof.Store(dir).list();
  const byType = (type) => entries.filter((e) => e.type === type);
  assert.deepStrictEqual([...new Set(entries.map((e) => e.type))].sort(), ['alloc', 'cpu'], entries.map((e) => e.file).join(', '));
  for (const type of ['cpu', 'alloc']) {
    assert.ok(byType(type).length >= 2, `${type}: a full window and the last, partial one`);
    for (const e of byType(type)) {
      assert.strictEqual(e.trigger, 'continuous');
      assert.match(e.file, new RegExp(`^shop_${type}_\\d{8}T\\d{6}\\.\\d{3}Z_continuous\\.pb\\.gz$`));
    }
  }
  const load = (e) => polyprof.load(path.join(dir, e.file));
  const allocs = byType('alloc').map(load);
  for (const prof of allocs) assert.deepStrictEqual(prof.valueTypes, STOP_TYPES);
  assert.ok(allocs.reduce((sum, prof) => sum + valueIn(prof, 'grow', 'alloc_space'), 0) > 0, 'grow in the allocation windows');
  const cpus = byType('cpu').map(load);
  assert.strictEqual(cpus[0].valueTypes[1][0], 'cpu');
  assert.ok(cpus.reduce((sum, prof) => sum + valueIn(prof, 'burn', 'cpu'), 0) > 0, 'burn in the CPU windows');
  // With an exporter: both kinds, the allocation windows marked type 'alloc'.
  const seen = JSON.parse(r.stdout);
  const allocSeen = seen.filter((w) => w.type === 'alloc');
  const cpuSeen = seen.filter((w) => w.type === null);
  assert.ok(allocSeen.length >= 2 && cpuSeen.length >= 2, JSON.stringify(seen));
  for (const w of allocSeen) assert.strictEqual(w.valueTypes.at(-1), 'alloc_space');
  for (const w of cpuSeen) assert.strictEqual(w.valueTypes.at(-1), 'cpu');
  assert.strictEqual(fs.readdirSync(dir).filter((f) => f.endsWith('.pb.gz')).length, entries.length, 'exported windows are not stored');

  // 'wall+alloc' too; allocation windows take push, as in Python (push.test.js); V8's CpuProfiler is not continuous.
  assert.doesNotThrow(() => new polyprof.ContinuousProfiler({ mode: 'wall+alloc', exporter: () => {} }));
  for (const mode of ['cpu+alloc', 'alloc']) {
    assert.doesNotThrow(() => new polyprof.ContinuousProfiler({ mode, push: 'http://127.0.0.1:4040' }));
  }
  assert.throws(() => new polyprof.ContinuousProfiler({ mode: 'v8+alloc' }), { name: 'PolyprofError', message: /'cpu\+alloc' or 'wall\+alloc'/ });
});

test('ENABLE_PROFILING with event=alloc: allocation windows from the environment', () => {
  const dir = tmpdir();
  const env = { ...process.env, ENABLE_PROFILING: 'true', POLYPROF_OPTIONS: 'event=alloc,service=env,alloc_interval=64k', POLYPROF_STORE: dir };
  delete env.PROFILE_INTERVAL_MS;
  delete env.PROFILE_MAX_DURATION;
  const app = 'const keep = []; function fill() { for (let i = 0; i < 1e5; i++) keep.push([i, i]); } fill();';
  const r = spawnSync(process.execPath, ['--require', path.join(REPO, 'node/lib/auto.js'), '-e', app], { env, encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stderr, '');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.pb.gz'));
  assert.strictEqual(files.length, 1, files.join(', '));
  assert.match(files[0], /^env_alloc_.*_continuous\.pb\.gz$/);
  assert.ok(valueIn(polyprof.load(path.join(dir, files[0])), 'fill', 'alloc_space') > 0);
});

test('a worker profiles its own heap', async () => {
  const { Worker } = require('worker_threads');
  const code = `
    const { parentPort } = require('worker_threads');
    const polyprof = require(${JSON.stringify(REPO)});
    const s = polyprof.start({ mode: 'alloc', allocInterval: '16k' });
    const keep = [];
    function inWorker() { for (let i = 0; i < 5e4; i++) keep.push({ i }); }
    inWorker();
    const samples = s.stop().samples();
    parentPort.postMessage({ names: samples.flatMap((x) => x.frames.map((f) => f.name)), threads: [...new Set(samples.map((x) => x.labels.thread_name))] });
  `;
  const main = polyprof.start({ mode: 'alloc', allocInterval: '16k' });
  let workerId;
  const { names, threads } = await new Promise((resolve, reject) => {
    const w = new Worker(code, { eval: true });
    workerId = w.threadId;
    w.once('message', resolve);
    w.once('error', reject);
  });
  assert.ok(names.includes('inWorker'), names.join(', '));
  assert.deepStrictEqual(threads, [`worker ${workerId}`], 'samples labelled thread_name: worker <threadId>');
  const mainSamples = main.stop().samples();
  assert.ok(mainSamples.every((x) => x.labels.thread_name === 'main'));
  const mainNames = mainSamples.flatMap((x) => x.frames.map((f) => f.name));
  assert.ok(!mainNames.includes('inWorker'), 'the main thread profile has its own heap only');
});

test('the endpoint serves /debug/pprof/heap and /allocs from the JavaScript thread, busy or idle', async () => {
  // The child keeps its JavaScript thread busy allocating (no event loop
  // turn for 2.5 s): the request is answered from a V8 interrupt.
  const script = `
    const polyprof = require(${JSON.stringify(REPO)});
    const ep = polyprof.serve({ endpoint: '127.0.0.1:0', allocInterval: '64k' });
    console.log(ep.port);
    const keep = [];
    function busyHoard() { keep.push(new Array(16).fill(keep.length)); }
    const end = Date.now() + 2500;
    while (Date.now() < end) busyHoard();
    ep.stop();
  `;
  const { spawn } = require('child_process');
  const child = spawn(process.execPath, ['--no-opt', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  assert.ok(port > 0);
  await new Promise((r) => setTimeout(r, 300));
  const dir = tmpdir();
  for (const [kind, type] of [
    ['heap', 'inuse_space'],
    ['allocs', 'alloc_space'],
  ]) {
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${port}/debug/pprof/${kind}`);
    const body = Buffer.from(await res.arrayBuffer());
    assert.strictEqual(res.status, 200, body.toString());
    console.log(`/debug/pprof/${kind} answered in ${Date.now() - t0} ms while the thread is busy`);
    assert.ok(Date.now() - t0 < 3000, `answered while the thread is busy (${Date.now() - t0} ms)`);
    const file = path.join(dir, `${kind}.pb.gz`);
    fs.writeFileSync(file, body);
    const prof = polyprof.load(file);
    assert.strictEqual(prof.valueTypes[3][0], type, `${kind}: pprof ranks by ${type}`);
    assert.ok(valueIn(prof, 'busyHoard', type) > 0, `${kind}: busyHoard in ${type}`);
    const top = execFileSync(findGo(), ['tool', 'pprof', '-top', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(top, new RegExp(`Type: ${type}`));
  }
  await new Promise((resolve) => child.once('exit', resolve));
  assert.strictEqual(child.exitCode, 0);

  // Idle event loop, in this process; heap: false leaves them out.
  const ep = polyprof.serve({ endpoint: ':0' });
  try {
    assert.strictEqual(polyprof.serving(), ep);
    const res = await fetch(`${ep.url}/debug/pprof/heap`);
    assert.strictEqual(res.status, 200);
  } finally {
    ep.stop();
  }
  assert.strictEqual(ep.running, false);
  assert.strictEqual(polyprof.serving(), null);
  const off = polyprof.serve({ endpoint: ':0', heap: false });
  try {
    assert.throws(() => polyprof.serve({ endpoint: ':0' }), { name: 'PolyprofError' }, 'one endpoint per process');
    const res = await fetch(`${off.url}/debug/pprof/allocs`);
    assert.strictEqual(res.status, 404);
  } finally {
    off.stop();
  }
  assert.throws(() => polyprof.serve({ endpoint: ':0', allocInterval: 'lots' }), {
    name: 'PolyprofError',
    message: /option 'alloc_interval'/,
  });
});

test('POLYPROF_OPTIONS=endpoint= serves heap profiles from polyprof/auto', async () => {
  const auto = path.join(REPO, 'node/lib/auto.js');
  const script = `
    const state = require(${JSON.stringify(auto)});
    const keep = [];
    function autoHoard() { for (let i = 0; i < 1e5; i++) keep.push([i]); }
    autoHoard();
    console.log(state.endpoint.port); // the test asks once the hoard is in the heap
    process.stdin.resume(); // until the test is done with the endpoint
    process.stdin.on('end', () => process.exit(0));
  `;
  const env = { ...process.env, POLYPROF_OPTIONS: 'endpoint=127.0.0.1:0,alloc_interval=32k' };
  delete env.ENABLE_PROFILING;
  const { spawn } = require('child_process');
  const child = spawn(process.execPath, ['-e', script], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const port = await new Promise((resolve) => child.stdout.once('data', (d) => resolve(Number(String(d).trim()))));
  const res = await fetch(`http://127.0.0.1:${port}/debug/pprof/heap`);
  const file = path.join(tmpdir(), 'auto-heap.pb.gz');
  fs.writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  child.stdin.end();
  await new Promise((resolve) => child.once('exit', resolve));
  assert.strictEqual(res.status, 200, fs.readFileSync(file, 'utf8'));
  assert.ok(valueIn(polyprof.load(file), 'autoHoard', 'inuse_space') > 0);
  assert.match(stderr, /^polyprof: serving profiles on 127\.0\.0\.1:\d+ \(\/debug\/pprof\/, \/polyprof\/status\)\n$/);
});
