'use strict';
// Every format of a mode-'cpu' and a mode-'v8' profile, each checked by a reader we did not
// write where there is one: `go tool pprof`, the Go pprof library
// (tests/go/pprofcheck), and the structure Chrome DevTools expects of a
// .cpuprofile.
const { describe, test, before } = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');
const polyprof = require('../..');
const { burnA, burnB, iterationsFor } = require('./workloads/burn');
const { findGo, checkPprof, tmpdir } = require('./helpers');

for (const [mode, timeType] of [
  ['cpu', 'cpu'],
  ['v8', 'wall'],
]) {
describe(`mode ${mode}`, () => {
  let profile;
  let dir;
  before(() => {
    const unit = iterationsFor(10);
    polyprof.start({ intervalMs: mode === 'cpu' ? 2 : 1, mode });
    for (let i = 0; i < 15; i++) {
      burnA(2 * unit);
      burnB(unit);
    }
    profile = polyprof.stop();
    dir = tmpdir();
  });

  test('pprof: go tool pprof -top reads it', () => {
    const file = path.join(dir, 'out.pb.gz');
    profile.write(file);
    const out = execFileSync(findGo(), ['tool', 'pprof', '-top', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, new RegExp(`Type: ${timeType}`));
    assert.match(out, /\bburnA\b/);
    assert.match(out, /\bburnB\b/);
  });

  test('pprof: the Go pprof library sees the same samples, values and labels', () => {
    const file = path.join(dir, 'out.pprof');
    profile.write(file);
    const s = checkPprof(file);
    assert.deepStrictEqual(s.sample_types, [
      ['samples', 'count'],
      [timeType, 'nanoseconds'],
    ]);
    assert.deepStrictEqual(s.totals, [profile.total(0), profile.total(1)]);
    assert.strictEqual(s.samples.length, profile.samples().length);
    const a = s.samples.find((x) => x.stack[0] === 'burnA');
    assert.ok(a, 'a stack with burnA as its leaf');
    assert.ok(a.files[0].endsWith(path.join('workloads', 'burn.js')));
    assert.strictEqual(a.labels.thread_name[0], 'main');
    if (mode === 'v8') {
      assert.ok(s.samples.every((x) => x.labels.thread_name[0] === 'main'), 'V8 samples its own thread only');
      assert.ok(s.comments.includes('sampler=v8-cpu-profiler'));
    } else {
      assert.ok(s.comments.some((c) => c.startsWith('options=event=cpu,')), s.comments.join('\n'));
    }
    assert.strictEqual(s.duration_nanos, Math.round(profile.durationSeconds * 1e9));
  });

  test('pprof: load() reads it back', () => {
    const file = path.join(dir, 'back.pb.gz');
    profile.write(file);
    const back = polyprof.load(file);
    assert.strictEqual(back.total(1), profile.total(1));
    assert.deepStrictEqual(
      back.samples().map((s) => s.frames.map((f) => f.name).join(';')).sort(),
      profile.samples().map((s) => s.frames.map((f) => f.name).join(';')).sort(),
    );
  });

  test('collapsed stacks and the text report', () => {
    const folded = path.join(dir, 'out.folded');
    profile.write(folded);
    const lines = fs.readFileSync(folded, 'utf8').trim().split('\n');
    let total = 0;
    for (const line of lines) {
      const m = /^(.+) (\d+)$/.exec(line);
      assert.ok(m, `collapsed line: ${line}`);
      total += Number(m[2]);
    }
    assert.strictEqual(total, profile.total(1));
    assert.ok(lines.some((l) => /;burnA \d+$/.test(l)));
    const top = path.join(dir, 'out.top');
    profile.write(top);
    assert.match(fs.readFileSync(top, 'utf8'), /burnA/);
    assert.match(profile.report(5), /flat%/);
  });

  test('.cpuprofile: nodes, samples and timeDeltas are consistent', () => {
    const file = path.join(dir, 'out.cpuprofile');
    profile.write(file);
    const cp = JSON.parse(fs.readFileSync(file, 'utf8'));
    const ids = new Set(cp.nodes.map((n) => n.id));
    assert.strictEqual(ids.size, cp.nodes.length, 'node ids are unique');
    assert.strictEqual(cp.samples.length, cp.timeDeltas.length);
    assert.ok(cp.samples.every((id) => ids.has(id)), 'every sample refers to a node');
    const parents = new Map();
    for (const n of cp.nodes) {
      assert.strictEqual(typeof n.callFrame.functionName, 'string');
      assert.strictEqual(typeof n.callFrame.scriptId, 'string');
      assert.strictEqual(typeof n.callFrame.url, 'string');
      assert.ok(Number.isInteger(n.callFrame.lineNumber) && Number.isInteger(n.callFrame.columnNumber));
      for (const c of n.children) {
        assert.ok(ids.has(c), `child ${c} of node ${n.id} exists`);
        assert.ok(!parents.has(c), `node ${c} has one parent`);
        parents.set(c, n.id);
      }
    }
    const roots = cp.nodes.filter((n) => !parents.has(n.id));
    assert.deepStrictEqual(roots.map((n) => n.callFrame.functionName), ['(root)']);
    const hits = cp.nodes.reduce((a, n) => a + n.hitCount, 0);
    assert.strictEqual(hits, cp.samples.length, 'hitCounts add up to the samples');
    assert.strictEqual(cp.samples.length, profile.total(0));
    assert.ok(cp.timeDeltas.every((d) => Number.isInteger(d) && d >= 0));
    const sum = cp.timeDeltas.reduce((a, b) => a + b, 0);
    assert.strictEqual(cp.endTime - cp.startTime, sum);
    assert.ok(Math.abs(sum - profile.total(1) / 1000) <= profile.samples().length, 'time is the profile total (µs)');
    assert.ok(cp.nodes.some((n) => n.callFrame.functionName === 'burnA' && n.callFrame.url.endsWith('burn.js')));
  });

  test('toBuffer gives the same bytes as the formats', () => {
    assert.strictEqual(profile.toBuffer().subarray(0, 2).toString('hex'), '1f8b'); // gzip
    assert.ok(JSON.parse(profile.toBuffer('cpuprofile').toString()).nodes.length > 1);
    assert.match(profile.toBuffer('collapsed').toString(), /burnA/);
  });
});
}

test("mode v8: time outside JavaScript shows as V8's special frames", async () => {
  polyprof.start({ intervalMs: 1, mode: 'v8' });
  await new Promise((r) => setTimeout(r, 100)); // the thread waits in the event loop
  const p = polyprof.stop();
  const special = p.samples().filter((s) => s.frames.length === 1 && s.frames[0].kind === 'special');
  const names = new Set(special.map((s) => s.frames[0].name));
  // The message says what the profile held instead (it has come out without
  // special frames a few times on a heavily loaded machine).
  const held = p.samples().map((s) => `${s.frames.map((f) => f.name).join(';')} ${s.values[1]}ns`);
  assert.ok(names.has('(idle)') || names.has('(program)'), `${[...names].join(', ')}; ${held.length} samples: ${held.slice(0, 5).join(' | ')}`);
  for (const n of names) assert.match(n, /^\((idle|program|garbage collector)\)$/);
  const waited = special.reduce((a, s) => a + s.values[1], 0);
  assert.ok(waited >= 50e6, `wall time while waiting: ${waited}ns`); // V8 samples wall time, not CPU
  assert.ok(!p.samples().some((s) => s.frames.some((f) => f.name === '(root)')), '(root) is never a frame');
});
