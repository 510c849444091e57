'use strict';
// Pushing continuous windows to Pyroscope from Node: a local HTTP server
// gets one POST /ingest per window as a Pyroscope server reads it (query,
// headers, the multipart field "profile" holding the window's pprof), and
// pushStats() counts it. libcurl is loaded with RTLD_DEEPBIND, so its
// OpenSSL is not the one Node carries.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { Worker } = require('worker_threads');
const polyprof = require('../..');
const { tmpdir, workInBursts } = require('./helpers');

function profileField(headers, body) {
  const m = /^multipart\/form-data; boundary=(.+)$/.exec(headers['content-type']);
  assert.ok(m, headers['content-type']);
  for (const part of body.toString('latin1').split(`--${m[1]}`)) {
    const at = part.indexOf('\r\n\r\n');
    if (at >= 0 && part.slice(0, at).includes('name="profile"')) return Buffer.from(part.slice(at + 4, -2), 'latin1');
  }
  assert.fail('no profile field');
}

// The server runs on a worker's event loop: stop() flushes the last window
// synchronously on this one.
const SERVER = `
const { parentPort } = require('worker_threads');
const http = require('http');
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    parentPort.postMessage({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));`;

test('windows are pushed to a Pyroscope ingest endpoint', async () => {
  const worker = new Worker(SERVER, { eval: true });
  const requests = [];
  const port = await new Promise((resolve) => worker.on('message', (m) => (m.port ? resolve(m.port) : requests.push(m))));
  const t0 = Math.floor(Date.now() / 1000);
  process.env.POLYPROF_PUSH_BASIC_AUTH = 'node:pw';
  const c = new polyprof.ContinuousProfiler({
    intervalMs: 10,
    windowSeconds: 1,
    exporter: () => {},
    push: { url: `http://127.0.0.1:${port}`, app: 'node-shop', tags: { env: 'test' }, tenant: 'team-n' },
  }).start();
  delete process.env.POLYPROF_PUSH_BASIC_AUTH;
  await workInBursts(1300);
  assert.strictEqual(c.pushStats().droppedQueueFull, 0);
  const windows = c.windows;
  c.stop(); // + the partial window, flushed before it returns
  const stats = c.pushStats();
  assert.deepStrictEqual(stats, { pushed: windows + 1, failedAttempts: 0, droppedQueueFull: 0, droppedRejected: 0, queued: 0 });
  await new Promise((r) => setTimeout(r, 100)); // the worker's last messages
  await worker.terminate();
  assert.strictEqual(requests.length, windows + 1);
  for (const r of requests) {
    const url = new URL(r.url, 'http://x');
    assert.strictEqual(r.method, 'POST');
    assert.strictEqual(url.pathname, '/ingest');
    assert.strictEqual(url.searchParams.get('name'), 'node-shop{env=test}');
    assert.strictEqual(url.searchParams.get('format'), 'pprof');
    const from = Number(url.searchParams.get('from'));
    assert.ok(from >= t0 && Number(url.searchParams.get('until')) > from);
    assert.strictEqual(r.headers.authorization, `Basic ${Buffer.from('node:pw').toString('base64')}`);
    assert.strictEqual(r.headers['x-scope-orgid'], 'team-n');
    const file = path.join(tmpdir(), 'window.pb.gz');
    fs.writeFileSync(file, profileField(r.headers, Buffer.from(r.body)));
    assert.strictEqual(polyprof.load(file).metadata.trigger, 'continuous');
  }
});

// 'cpu+alloc': the allocation windows are pushed too, beside the CPU ones
// (Pyroscope shows them as memory profiles), stored as well, and counted in
// the same pushStats().
test("mode 'cpu+alloc': CPU and allocation windows are both pushed", async () => {
  const worker = new Worker(SERVER, { eval: true });
  const requests = [];
  const port = await new Promise((resolve) => worker.on('message', (m) => (m.port ? resolve(m.port) : requests.push(m))));
  const dir = tmpdir();
  const c = new polyprof.ContinuousProfiler({
    mode: 'cpu+alloc',
    intervalMs: 10,
    windowSeconds: 1,
    allocInterval: '64k',
    service: 'push-shop',
    store: dir,
    push: { url: `http://127.0.0.1:${port}`, tags: { env: 'test' } },
  }).start();
  const keep = [];
  function hoardForPyroscope() {
    for (let i = 0; i < 5000; i++) keep.push({ i, row: new Array(8).fill(i) });
  }
  const end = Date.now() + 1400;
  while (Date.now() < end) {
    hoardForPyroscope();
    await workInBursts(40);
  }
  c.stop(); // + both partial windows, flushed before it returns
  const stats = c.pushStats();
  await new Promise((r) => setTimeout(r, 100)); // the worker's last messages
  await worker.terminate();
  assert.ok(keep.length > 0);
  const windows = requests.map((r) => {
    const url = new URL(r.url, 'http://x');
    assert.strictEqual(url.pathname, '/ingest');
    assert.strictEqual(url.searchParams.get('name'), 'push-shop{env=test}');
    assert.strictEqual(url.searchParams.get('format'), 'pprof');
    assert.ok(Number(url.searchParams.get('until')) > Number(url.searchParams.get('from')));
    const file = path.join(tmpdir(), 'window.pb.gz');
    fs.writeFileSync(file, profileField(r.headers, Buffer.from(r.body)));
    return polyprof.load(file);
  });
  const types = (p) => p.valueTypes.map(([t]) => t);
  const allocs = windows.filter((p) => types(p).includes('alloc_space'));
  const cpus = windows.filter((p) => types(p).includes('cpu'));
  assert.strictEqual(cpus.length, 2, `CPU windows: ${JSON.stringify(windows.map(types))}`);
  assert.strictEqual(allocs.length, 2, `allocation windows: ${JSON.stringify(windows.map(types))}`);
  assert.strictEqual(requests.length, 4);
  assert.deepStrictEqual(stats, { pushed: requests.length, failedAttempts: 0, droppedQueueFull: 0, droppedRejected: 0, queued: 0 });
  // The function that retains the objects holds most of what is alive.
  for (const prof of allocs) {
    const at = types(prof).indexOf('inuse_space');
    let total = 0;
    let hoarded = 0;
    for (const s of prof.samples()) {
      total += s.values[at];
      if (s.frames.some((f) => f.name === 'hoardForPyroscope')) hoarded += s.values[at];
    }
    assert.ok(hoarded > total / 2, `hoardForPyroscope holds ${hoarded} of ${total} inuse_space bytes`);
  }
  // Pushed and stored alike.
  const stored = new polyprof.Store(dir).list();
  assert.strictEqual(stored.filter((e) => e.type === 'alloc').length, 2, stored.map((e) => e.file).join(', '));
});

// https with the server's certificate as push.caFile: libcurl's own OpenSSL
// (loaded with RTLD_DEEPBIND), beside the one Node carries.
test('windows are pushed over https, the certificate verified', async () => {
  const dir = tmpdir();
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1'], { encoding: 'utf8' });
  assert.strictEqual(made.status, 0, `openssl (Debian: openssl, a dependency of ca-certificates): ${made.stderr}`);
  const server = SERVER.replace("require('http')", "require('https')")
    .replace('http.createServer(', `http.createServer({ key: require('fs').readFileSync(${JSON.stringify(key)}), cert: require('fs').readFileSync(${JSON.stringify(cert)}) }, `);
  const worker = new Worker(server, { eval: true });
  const requests = [];
  const port = await new Promise((resolve) => worker.on('message', (m) => (m.port ? resolve(m.port) : requests.push(m))));
  const url = `https://127.0.0.1:${port}`;
  const c = new polyprof.ContinuousProfiler({ intervalMs: 10, windowSeconds: 1, exporter: () => {}, push: { url, caFile: cert } }).start();
  await workInBursts(200);
  c.stop();
  assert.deepStrictEqual(c.pushStats(), { pushed: 1, failedAttempts: 0, droppedQueueFull: 0, droppedRejected: 0, queued: 0 });
  // Without the CA the certificate is refused: retried, never sent.
  const refused = new polyprof.ContinuousProfiler({ intervalMs: 10, windowSeconds: 1, exporter: () => {}, push: { url, flushMs: 300 } }).start();
  refused.stop();
  const stats = refused.pushStats();
  assert.ok(stats.pushed === 0 && stats.failedAttempts >= 1, JSON.stringify(stats));
  await new Promise((r) => setTimeout(r, 100));
  await worker.terminate();
  assert.strictEqual(requests.length, 1);
  assert.strictEqual(new URL(requests[0].url, 'http://x').searchParams.get('name'), 'node{}');
});

// A tripped breaker stops profiling on the request path: a server that never
// answers does not hold the request for push_flush.
for (const mode of ['cpu', 'cpu+alloc']) test(`a tripped breaker does not wait for the uploads (mode '${mode}')`, async () => {
  const net = require('net');
  const held = [];
  const silent = net.createServer((sock) => held.push(sock)); // accepts, never answers
  await new Promise((r) => silent.listen(0, '127.0.0.1', r));
  const c = new polyprof.ContinuousProfiler({
    mode,
    intervalMs: 10,
    windowSeconds: 1,
    exporter: () => {},
    push: { url: `http://127.0.0.1:${silent.address().port}`, timeoutMs: 60000, flushMs: 5000 },
  }).start();
  const breaker = new polyprof.CircuitBreaker({ violationThreshold: 1 });
  breaker.guard(c);
  await workInBursts(1200); // window 0 is being sent, and waits for an answer
  const t = Date.now();
  assert.strictEqual(breaker.recordLatency(100, 10), true);
  const took = Date.now() - t;
  assert.strictEqual(c.running, false);
  // Not a speed assertion: waiting would take the 5 s flush.
  assert.ok(took < 2500, `recordLatency took ${took} ms`);
  assert.strictEqual(c.pushStats().pushed, 0);
  for (const s of held) s.destroy();
  silent.close();
});

test('push options are checked by the core before anything starts', () => {
  assert.throws(() => new polyprof.ContinuousProfiler({ push: 'ftp://pyroscope' }), /push.*http:\/\/ or https:\/\//);
  assert.throws(() => new polyprof.ContinuousProfiler({ push: { url: 'http://p:4040', tags: { 'a-b': 'x' } } }), /push_tags/);
  assert.throws(() => new polyprof.ContinuousProfiler({ push: { url: 'http://p:4040', token: 'x' } }), /unknown key 'token'/);
  assert.throws(() => new polyprof.ContinuousProfiler({ mode: 'cpu+alloc', push: { url: 'http://p:4040', queue: 0 } }), /push_queue/);
  assert.strictEqual(new polyprof.ContinuousProfiler().pushStats(), null);
});

test('push keys survive the environment configuration (polyprof/auto)', () => {
  const saved = { ...process.env };
  process.env.ENABLE_PROFILING = 'true';
  process.env.POLYPROF_OPTIONS = 'push=http://pyroscope:4040,push_tags=env=prod;team=x,push_tenant=t';
  try {
    const { options } = require('../../node/lib/native').envConfig();
    assert.strictEqual(options.push, 'http://pyroscope:4040');
    assert.strictEqual(options.push_tags, 'env=prod;team=x');
    assert.strictEqual(options.push_tenant, 't');
  } finally {
    for (const k of ['ENABLE_PROFILING', 'POLYPROF_OPTIONS']) if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
  }
});
