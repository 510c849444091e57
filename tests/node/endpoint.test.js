'use strict';
// profileEndpoint: from the first call, for durationSeconds, only samples with
// the handler on the stack are kept; the report is rooted at the handler and
// goes to stderr or `output`. Express-style (req, res, next) handlers behind
// middleware, and async functions that await between bursts of work.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const http = require('http');
const path = require('path');
const { spawnSync } = require('child_process');
const { setTimeout: sleep } = require('timers/promises');
const polyprof = require('../..');
const { burnA, burnB, burnC, iterationsFor } = require('./workloads/burn');
const { REPO, tmpdir } = require('./helpers');

const unit = iterationsFor(2);

// What Express does with a route's handlers: call each as fn(req, res, next),
// pick error handlers by their four parameters, route throws to next(err).
function dispatch(stack, req, res) {
  let i = 0;
  const next = (err) => {
    const fn = stack[i++];
    if (!fn) {
      res.statusCode = err ? 500 : 404;
      return res.end(err ? String(err.message) : 'not found');
    }
    if (err ? fn.length !== 4 : fn.length === 4) return next(err);
    try {
      if (err) fn(err, req, res, next);
      else fn(req, res, next);
    } catch (e) {
      next(e);
    }
  };
  next();
}

function get(port, url) {
  return new Promise((resolve, reject) => {
    http
      .get({ port, path: url, agent: false }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

// The report's rows as [flat, flat%, cum, cum%, function, file:line].
function functionRows(report) {
  const rows = [];
  for (const line of report.split('\n')) {
    const m = /^\s*(\d\S*)\s+(\S+%)\s+(\S+)\s+(\S+%)\s+(.*)$/.exec(line);
    if (m) rows.push([m[1], m[2], m[3], m[4], ...m[5].split(/\s{2,}/)]);
  }
  return rows;
}

test('Express-style handler behind middleware', async () => {
  let report = null;
  const reported = new Promise((resolve) => {
    report = resolve;
  });
  const routes = {
    '/work': [
      (req, res, next) => {
        burnC(unit); // middleware: calls next() synchronously, so it sits under the handler
        next();
      },
      polyprof.profileEndpoint(
        (req, res) => {
          burnA(3 * unit);
          if (req.url.includes('fail')) throw new Error('handler failed');
          res.end('a');
        },
        { durationSeconds: 0.6, output: (text) => report(text), intervalMs: 1 },
      ),
      polyprof.profileEndpoint((err, req, res, next) => next(err), { durationSeconds: 0.6, output: () => {} }),
    ],
    '/other': [(req, res) => (burnB(3 * unit), res.end('b'))],
  };
  assert.strictEqual(routes['/work'][2].length, 4, 'the wrapper keeps the arity Express tells error handlers by');
  const server = http.createServer((req, res) => dispatch(routes[req.url.replace(/\?.*/, '')] || [], req, res));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  let text;
  try {
    let done = false;
    reported.then(() => (done = true));
    for (let i = 0; !done && i < 2000; i++) {
      assert.deepStrictEqual(await get(port, '/work'), { status: 200, body: 'a' });
      assert.deepStrictEqual(await get(port, '/other'), { status: 200, body: 'b' });
      if (i === 3) assert.strictEqual((await get(port, '/work?fail')).status, 500); // throws reach next(err)
    }
    text = await reported;
  } finally {
    server.close();
  }
  const ep = routes['/work'][1].polyprofEndpoint;
  const handlerName = ep.name.replace(/ \(.*\)$/, '');
  // An arrow function without a name of its own: V8 infers one from where it stands.
  assert.match(ep.name, / \(.*endpoint\.test\.js:\d+\)$/);
  assert.ok(text.startsWith(`polyprof: ${ep.name}, 0.`), text);
  assert.match(text, /s from its first call, top 20 functions/);
  const rows = functionRows(text);
  const handlerRow = rows.find((r) => r[4] === handlerName);
  assert.ok(handlerRow && handlerRow[3] === '100.00%', `the report is rooted at the handler:\n${text}`);
  const names = rows.map((r) => r[4]);
  assert.ok(names.includes('burnA'), text);
  for (const absent of ['burnB', 'burnC', 'dispatch', 'next']) assert.ok(!names.includes(absent), `${absent} in\n${text}`);
  // The kept profile has whole stacks (the middleware below the handler), all labelled.
  const samples = ep.profile.samples();
  assert.ok(samples.length > 0);
  assert.ok(samples.every((s) => s.labels.endpoint === ep.name));
  assert.ok(samples.every((s) => s.frames.some((f) => f.name === handlerName)));
  assert.ok(samples.some((s) => s.frames.some((f) => f.name === 'next')), 'full stacks keep the frames under the handler');
  assert.ok(!samples.some((s) => s.frames.some((f) => f.name === 'burnB')));
  assert.ok(ep.profile.durationSeconds <= 0.65, `window ${ep.profile.durationSeconds}s`);
});

test('async function: counted while it runs, not while it awaits', async () => {
  async function checkout(n) {
    burnA(n);
    await sleep(5);
    burnC(n); // after the await: V8 resumes checkout's own frame
    return 'done';
  }
  const chunks = [];
  const stream = { write: (t) => chunks.push(t) };
  const wrapped = polyprof.profileEndpoint(checkout, { durationSeconds: 0.5, output: stream, intervalMs: 1 });
  assert.strictEqual(wrapped.name, 'checkout');
  // Other work on the same thread, running while checkout awaits.
  const noise = setInterval(() => burnB(unit), 3);
  try {
    const t0 = Date.now();
    while (chunks.length === 0 && Date.now() - t0 < 5000) assert.strictEqual(await wrapped(unit), 'done');
  } finally {
    clearInterval(noise);
  }
  const text = chunks.join('');
  assert.match(text, /^polyprof: checkout \(.*endpoint\.test\.js:\d+\), 0\.\ds from its first call/);
  const rows = functionRows(text);
  assert.strictEqual(rows.find((r) => r[4] === 'checkout')[3], '100.00%', text);
  const names = rows.map((r) => r[4]);
  assert.ok(names.includes('burnA') && names.includes('burnC'), text);
  assert.ok(!names.includes('burnB'), text);
  // Done: later calls pass straight through, no second window.
  await wrapped(unit);
  assert.strictEqual(wrapped.polyprofEndpoint.state, 'done');
  assert.strictEqual(chunks.length, 1);
});

test('plain function, report to a path; this and return value pass through', async () => {
  const out = path.join(tmpdir(), 'report.txt');
  const obj = {
    factor: 2,
    compute: polyprof.profileEndpoint(
      function compute(n) {
        return burnA(n) >= 0 ? this.factor * n : 0;
      },
      { durationSeconds: 0.2, output: out },
    ),
  };
  const t0 = Date.now();
  while (Date.now() - t0 < 250) assert.strictEqual(obj.compute(unit), 2 * unit);
  await sleep(100); // the window's timer fires on the event loop
  assert.match(fs.readFileSync(out, 'utf8'), /^polyprof: compute .*\n[\s\S]*burnA/);
});

test('a window still open at exit reports to stderr', () => {
  const script = `
    const polyprof = require(${JSON.stringify(REPO)});
    const { burnA } = require(${JSON.stringify(path.join(__dirname, 'workloads/burn.js'))});
    const h = polyprof.profileEndpoint(function handle() { burnA(5e6); }, { durationSeconds: 60, intervalMs: 1 });
    h();`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout, '');
  assert.match(r.stderr, /^polyprof: handle \(\[eval\]:\d+\), 0\.\ds from its first call, top 20 functions/);
  assert.match(r.stderr, /100\.00%\s+handle\b/);
  assert.match(r.stderr, /burnA/);
});
