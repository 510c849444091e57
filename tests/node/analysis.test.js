'use strict';
// `polyprof diff` and `polyprof convert` from the Node CLI: the same core
// writers and readers as the Python CLI, so the same results.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const polyprof = require('../..');
const { REPO, checkPprof, tmpdir } = require('./helpers');

const CLI = path.join(REPO, 'node/lib/cli.js');

function run(args) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

function burn(ms, fn) {
  const end = Date.now() + ms;
  let x = 0;
  while (Date.now() < end) x += fn();
  return x;
}

function burnAlpha() {
  let s = 0;
  for (let i = 0; i < 2000; i++) s += Math.sqrt(i);
  return s;
}

function burnBeta() {
  return [...Array(300).keys()].sort((a, b) => b - a)[0];
}

// {stack root first, joined by ';': total of value `index`}
function stacks(prof, index) {
  const out = new Map();
  for (const s of prof.samples()) {
    const key = s.frames.map((f) => f.name || '[unknown]').reverse().join(';');
    out.set(key, (out.get(key) ?? 0) + s.values[index]);
  }
  for (const [k, v] of out) if (!v) out.delete(k);
  return out;
}

function recorded(dir) {
  polyprof.start({ intervalMs: 1 });
  burn(120, burnAlpha);
  burn(60, burnBeta);
  const file = path.join(dir, 'rec.pb.gz');
  polyprof.stop().write(file);
  return file;
}

test('convert: pprof -> collapsed / speedscope / cpuprofile -> pprof keeps stacks and values', () => {
  const dir = tmpdir();
  const rec = recorded(dir);
  const src = polyprof.load(rec);
  const types = src.valueTypes.map(([t]) => t);
  const def = types.length - 1;
  for (const [mid, indexes] of [
    ['a.folded', [[0, def]]],
    ['b.speedscope.json', types.map((_, i) => [i, i])],
    ['c.cpuprofile', [[0, 0]]],
  ]) {
    const midFile = path.join(dir, mid);
    const back = path.join(dir, `${mid}.pb.gz`);
    let r = run(['convert', rec, '-o', midFile]);
    assert.strictEqual(r.status, 0, r.stderr);
    r = run(['convert', midFile, '-o', back]);
    assert.strictEqual(r.status, 0, r.stderr);
    checkPprof(back);
    const got = polyprof.load(back);
    for (const [gi, si] of indexes) assert.deepStrictEqual(stacks(got, gi), stacks(src, si), `${mid}: value ${gi}`);
  }
  const doc = JSON.parse(fs.readFileSync(path.join(dir, 'b.speedscope.json'), 'utf8'));
  assert.strictEqual(doc.$schema, 'https://www.speedscope.app/file-format-schema.json');
  assert.deepStrictEqual(doc.profiles.map((p) => p.name), types);
  assert.ok(doc.profiles.every((p) => p.type === 'sampled' && p.samples.length === p.weights.length));
});

test('convert: unknown suffixes and formats name the accepted ones', () => {
  const dir = tmpdir();
  fs.writeFileSync(path.join(dir, 'in.folded'), 'main;a 3\nmain;b 1\n');
  let r = run(['convert', path.join(dir, 'in.folded'), '-o', path.join(dir, 'out.json')]);
  assert.notStrictEqual(r.status, 0);
  assert.match(r.stderr, /suffix '\.json'.*\.speedscope\.json/);
  r = run(['convert', path.join(dir, 'in.folded'), '--to', 'yaml', '-o', path.join(dir, 'out.x')]);
  assert.match(r.stderr, /'yaml'.*speedscope/);
  r = run(['convert', path.join(dir, 'in.folded'), '--from', 'html', '-o', path.join(dir, 'out.pb.gz')]);
  assert.match(r.stderr, /cannot read html profiles; readable formats: pprof/);
});

test('diff: text ranks by change of share, html carries both profiles, mismatches are refused', () => {
  const dir = tmpdir();
  const base = path.join(dir, 'base.folded');
  const cur = path.join(dir, 'new.folded');
  fs.writeFileSync(base, 'main;alpha 60\nmain;beta 30\nmain;gone 10\n');
  fs.writeFileSync(cur, 'main;alpha 60\nmain;beta 120\nmain;fresh 20\n'); // twice as long
  let r = run(['diff', base, cur, '-n', '5']);
  assert.strictEqual(r.status, 0, r.stderr);
  const grew = r.stdout.split('Grew most by cumulative share')[1].split('\n\n')[0].split('\n');
  assert.deepStrictEqual(grew[2].trim().split(/\s+/), ['30.00%', '60.00%', '+30.00', 'beta']);
  const shrank = r.stdout.split('Shrank most by cumulative share')[1].split('\n\n')[0];
  assert.match(shrank, /60\.00%\s+30\.00%\s+-30\.00\s+alpha/);
  assert.match(shrank, /10\.00%\s+0\.00%\s+-10\.00\s+gone/);
  const page = path.join(dir, 'diff.html');
  r = run(['diff', base, cur, '-o', page]);
  assert.strictEqual(r.status, 0, r.stderr);
  const html = fs.readFileSync(page, 'utf8');
  assert.match(html, /Differential flame graph: samples/);
  assert.match(html, /"base":\[100,/);
  // the same page the Python CLI writes: one writer, in the core
  assert.deepStrictEqual(
    polyprof.diff(polyprof.load(base), polyprof.load(cur), 'html').toString(),
    html,
  );
  const rec = recorded(dir);
  r = run(['diff', base, rec, '-o', path.join(dir, 'x.html')]);
  assert.notStrictEqual(r.status, 0);
  assert.match(r.stderr, /^polyprof diff: the profiles' sample types do not match.*base has: samples\/count/);
  r = run(['diff', rec, rec, '--sample-index', 'bytes']);
  assert.match(r.stderr, /no sample type 'bytes' in the new profile/);
});
