'use strict';
// The local HTTP endpoint in Node (polyprof.serve, start({endpoint}),
// POLYPROF_OPTIONS=endpoint=... with polyprof/auto): `go tool pprof` reads a
// CPU profile from its URL, and it keeps answering while the event loop is
// stuck in a busy loop (the core's threads capture and name the frames).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { spawn, spawnSync, execFile } = require('child_process');
const polyprof = require('../..');
const { REPO, findGo, tmpdir } = require('./helpers');

const AUTO = path.join(REPO, 'node/lib/auto.js');
const ENV_VARS = ['ENABLE_PROFILING', 'PROFILE_INTERVAL_MS', 'PROFILE_MAX_DURATION', 'POLYPROF_OPTIONS',
  'POLYPROF_STORE', 'POLYPROF_ENDPOINT_TOKEN'];

function cleanEnv(extra) {
  const env = { ...process.env };
  for (const v of ENV_VARS) delete env[v];
  return { ...env, ...extra };
}

// GET (or another method) on the endpoint: {status, headers, body (Buffer)}.
function request(url, { method = 'GET', headers = {}, timeoutMs = 15000 } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer from ${url} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

// `go tool pprof -top URL`: its text report (throws with Go's output on failure).
function pprofTop(url) {
  return new Promise((resolve, reject) => {
    execFile(findGo(), ['tool', 'pprof', '-top', url], { encoding: 'utf8', timeout: 60000, env: { ...process.env, PPROF_TMPDIR: tmpdir() } },
      (err, stdout, stderr) => (err ? reject(new Error(`go tool pprof failed: ${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

// Spawns a node program; resolves once `pattern` matches its stdout or
// stderr, with the match and the child (killed at the end of the test).
function spawnUntil(t, args, env, pattern) {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the program did not print ${pattern} in 20 s:\n${out}`)), 20000);
    const onData = (d) => {
      out += d;
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ match: m, child, output: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`the program exited (${code}) before printing ${pattern}:\n${out}`)));
  });
}

// `flat flat% sum% cum cum% name` lines of `go tool pprof -top`: name -> cum%.
function cumShares(top) {
  const out = new Map();
  for (const line of top.split('\n')) {
    const m = /^\s*\S+\s+\S+%\s+\S+%\s+\S+\s+([\d.]+)%\s+(.+?)\s*$/.exec(line);
    if (m) out.set(m[2], Number(m[1]));
  }
  return out;
}

test('go tool pprof reads the hot JavaScript function from start({ endpoint })', async (t) => {
  const app = `
    const polyprof = require(${JSON.stringify(REPO)});
    polyprof.start({ endpoint: '127.0.0.1:0' });
    console.log('serving ' + polyprof.serving().address);
    function hotFunction(n) { let x = 0; for (let i = 0; i < n; i++) x = (x + Math.sqrt(i)) % 1e9; return x; }
    function coldFunction(n) { let x = 0; for (let i = 0; i < n; i++) x = (x + Math.sqrt(i + 1)) % 1e9; return x; }
    // The event loop stays free: work comes in slices.
    (function tick() { hotFunction(4e5); coldFunction(2e4); setImmediate(tick); })();`;
  const { match } = await spawnUntil(t, ['-e', app], cleanEnv(), /serving (127\.0\.0\.1:\d+)/);
  const top = await pprofTop(`http://${match[1]}/debug/pprof/profile?seconds=2`);
  const cum = cumShares(top);
  assert.ok(cum.get('hotFunction') >= 50, `hotFunction should take most of the time:\n${top}`);
  assert.ok((cum.get('coldFunction') ?? 0) < cum.get('hotFunction'), top);
  assert.ok(cum.get('tick') >= cum.get('hotFunction'), `hotFunction is called from tick:\n${top}`);
});

test('a busy event loop still answers /polyprof/status and a profile naming the spinning function', async (t) => {
  // polyprof/auto serves POLYPROF_OPTIONS' endpoint; then the loop never yields.
  const app = `
    function spinForever() { let x = 0; for (;;) x = (x * 31 + 7) % 1000003; }
    setTimeout(spinForever, 200);`;
  const env = cleanEnv({ POLYPROF_OPTIONS: 'endpoint=127.0.0.1:0' });
  const { match } = await spawnUntil(t, ['--require', AUTO, '-e', app], env,
    /polyprof: serving profiles on (127\.0\.0\.1:\d+)/);
  const base = `http://${match[1]}`;
  await new Promise((r) => setTimeout(r, 600)); // well inside spinForever by now
  const status = await request(`${base}/polyprof/status`);
  assert.strictEqual(status.status, 200);
  const s = JSON.parse(status.body.toString());
  assert.strictEqual(s.runtime, 'node');
  assert.strictEqual(s.sampler_running, false, 'serving samples nothing until asked');
  assert.ok(s.js_code_map_entries > 0, 'JIT code events are on while serving');
  const top = await pprofTop(`${base}/debug/pprof/profile?seconds=2`);
  const cum = cumShares(top);
  assert.ok(cum.get('spinForever') >= 80, `the spinning function should take nearly all the time:\n${top}`);
  // Still answering after the capture, the loop still stuck.
  assert.strictEqual((await request(`${base}/polyprof/status`)).status, 200);
});

test('serve(): address, port 0, token, one per process, close()', async (t) => {
  const ep = polyprof.serve(':0', { heap: false });
  t.after(() => ep.close());
  assert.match(ep.address, /^127\.0\.0\.1:\d+$/);
  assert.ok(ep.port > 0);
  assert.strictEqual(ep.url, `http://127.0.0.1:${ep.port}`);
  assert.strictEqual(polyprof.serving(), ep);
  assert.throws(() => polyprof.serve(':0'), { name: 'PolyprofError', message: /already serves on 127\.0\.0\.1:\d+/ });
  const index = await request(`${ep.url}/debug/pprof/`);
  assert.strictEqual(index.status, 200);
  assert.match(index.body.toString(), /node process/);
  // heap: false: no allocation profile, 404 with the reason.
  const allocs = await request(`${ep.url}/debug/pprof/allocs`);
  assert.strictEqual(allocs.status, 404);
  assert.match(allocs.body.toString(), /allocation profiling is not running/);
  ep.close();
  assert.strictEqual(ep.running, false);
  assert.strictEqual(polyprof.serving(), null);
  await assert.rejects(request(`${ep.url}/polyprof/status`), /ECONNREFUSED/);

  // A token: every request needs it.
  const dir = tmpdir();
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 's3cret-token\n');
  const guarded = polyprof.serve(':0', { tokenFile });
  t.after(() => guarded.close());
  const refused = await request(`${guarded.url}/polyprof/status`);
  assert.strictEqual(refused.status, 401);
  assert.match(refused.body.toString(), /Authorization: Bearer/);
  const wrong = await request(`${guarded.url}/polyprof/status`, { headers: { Authorization: 'Bearer nope' } });
  assert.strictEqual(wrong.status, 401);
  const ok = await request(`${guarded.url}/polyprof/status`, { headers: { Authorization: 'Bearer s3cret-token' } });
  assert.strictEqual(ok.status, 200);
  guarded.close();
});

test('serve() refuses what the core refuses, with its message', () => {
  assert.throws(() => polyprof.serve('0.0.0.0:0'), {
    name: 'PolyprofError',
    message: /option 'endpoint': 0\.0\.0\.0:0 is not a loopback address; .*endpoint_remote=true and a token/,
  });
  assert.throws(() => polyprof.serve('0.0.0.0:0', { remote: true }), { name: 'PolyprofError', message: /\(no token is set\)/ });
  assert.throws(() => polyprof.serve('127.0.0.1:99999'), { name: 'PolyprofError', message: /option 'endpoint': invalid value/ });
  assert.throws(() => polyprof.serve(':0', { tokenFile: '/no/such/token' }), {
    name: 'PolyprofError',
    message: /option 'endpoint_token_file': cannot read '\/no\/such\/token'/,
  });
  assert.throws(() => polyprof.serve(true), TypeError);
  assert.throws(() => polyprof.serve(':0', { nope: 1 }), { name: 'PolyprofError', message: /unknown option 'nope'/ });
  assert.strictEqual(polyprof.serving(), null, 'nothing is left serving after a refusal');
  // start() refuses the same way and does not start profiling.
  assert.throws(() => polyprof.start({ endpoint: '0.0.0.0:6060' }), { name: 'PolyprofError', message: /not a loopback address/ });
  assert.strictEqual(polyprof.isRunning(), false);
});

test('POLYPROF_OPTIONS with a bad endpoint leaves the program running and says why', () => {
  const env = cleanEnv({ POLYPROF_OPTIONS: 'endpoint=10.1.2.3:6060' });
  const r = spawnSync(process.execPath, ['--require', AUTO, '-e', 'console.log("app ran")'], { env, encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout, 'app ran\n');
  assert.match(r.stderr, /polyprof: the endpoint stays off: option 'endpoint': 10\.1\.2\.3:6060 is not a loopback address/);
});
