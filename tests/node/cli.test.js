'use strict';
// `polyprof record -- node app.js` profiles a program from its first line and
// writes at exit (or on ^C); `polyprof top` reads the result.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const polyprof = require('../..');
const { REPO, tmpdir } = require('./helpers');

const CLI = path.join(REPO, 'node/lib/cli.js');
const APP = path.join(__dirname, 'workloads/app.js');

function run(args) {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
}

test('record -o out.pb.gz -- node app.js, then top', () => {
  const out = path.join(tmpdir(), 'app.pb.gz');
  const r = run(['record', '-o', out, '--interval', '2ms', '--', 'node', APP, 'x', 'y']);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.strictEqual(r.stdout, 'done x y\n', 'the program gets its arguments and its stdout');
  assert.match(r.stderr, /^polyprof: wrote .*app\.pb\.gz \(\d+ samples, \d+\.\ds\)\n$/);
  const prof = polyprof.load(out);
  assert.ok(prof.comments.some((c) => /^options=event=cpu,interval=2000us,.*native=true/.test(c)), prof.comments.join('\n'));
  const names = new Set(prof.samples().flatMap((s) => s.frames.map((f) => f.name)));
  assert.ok(names.has('burnA') && names.has('burnB') && names.has('main'));
  // Stacks through the program's top level start there, not in Node's module loader.
  const inApp = prof.samples().filter((x) => x.frames.some((f) => f.name === 'main' && f.file === APP));
  assert.ok(inApp.length > 0);
  for (const s of inApp) {
    assert.strictEqual(s.frames[s.frames.length - 1].name, '(anonymous app.js:1)');
  }
  const top = run(['top', out, '-n', '5']);
  assert.strictEqual(top.status, 0, top.stderr);
  assert.match(top.stdout, /top 5 of \d+ functions/);
  assert.match(top.stdout, /burnA/);
  const bySamples = run(['top', out, '--sample-index', 'samples']);
  assert.match(bySamples.stdout, /^Total: \d+ samples/);
});

test('record: a script path alone, other formats, --duration', () => {
  const dir = tmpdir();
  const folded = path.join(dir, 'app.folded');
  let r = run(['record', '-o', folded, APP]);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(fs.readFileSync(folded, 'utf8'), /;main;burnA \d+\n/);
  const cpuprofile = path.join(dir, 'app.cpuprofile');
  r = run(['record', '-o', cpuprofile, '--duration', '100ms', '--', 'node', APP]);
  assert.strictEqual(r.status, 0, r.stderr);
  const cp = JSON.parse(fs.readFileSync(cpuprofile, 'utf8'));
  assert.ok(cp.timeDeltas.reduce((a, b) => a + b, 0) <= 110e3, 'no more than the duration');
  // Mode v8 (V8's CpuProfiler) on request.
  const v8 = path.join(dir, 'v8.pb.gz');
  r = run(['record', '-o', v8, '--mode', 'v8', '--', 'node', APP]);
  assert.strictEqual(r.status, 0, r.stderr);
  const prof = polyprof.load(v8);
  assert.ok(prof.comments.includes('options=mode=v8,interval=10000us,duration=0ms,native=false'), prof.comments.join('\n'));
  assert.ok(prof.samples().some((x) => x.frames.some((f) => f.name === 'burnA')));
});

test("record: workers' JavaScript is sampled, labelled by worker", () => {
  const out = path.join(tmpdir(), 'workers.pb.gz');
  const r = run(['record', '-o', out, '--interval', '2ms', '--', 'node', path.join(__dirname, 'workloads/workers_app.js')]);
  assert.strictEqual(r.status, 0, r.stderr);
  assert.match(r.stdout, /workers done/);
  const byThread = new Map();
  for (const s of polyprof.load(out).samples()) {
    if (s.frames.some((f) => f.name === 'burnA')) byThread.set(s.labels.thread_name, (byThread.get(s.labels.thread_name) ?? 0) + 1);
  }
  const workers = [...byThread.keys()].filter((n) => /^worker \d+$/.test(n));
  assert.strictEqual(workers.length, 3, [...byThread.keys()].join(', '));
});

test('record: ^C on a program without its own handler still writes the profile', async () => {
  const out = path.join(tmpdir(), 'serve.pb.gz');
  // Its own process group, as in a terminal, where ^C reaches every process of the job.
  const child = spawn(process.execPath, [CLI, 'record', '-o', out, '--', 'node', APP, '--serve'], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  await new Promise((resolve) => child.stdout.on('data', (d) => String(d).includes('serving') && resolve()));
  process.kill(-child.pid, 'SIGINT');
  const [code, signal] = await new Promise((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  assert.strictEqual(code, 130, `exit ${code} ${signal}: ${stderr}`); // 128 + SIGINT, like the program alone
  assert.match(stderr, /polyprof: wrote .*serve\.pb\.gz/);
  assert.ok(polyprof.load(out).samples().length > 0);
});

test('record and top: clear errors', () => {
  const dir = tmpdir();
  const cases = [
    [['record', '--mode', 'sometimes', '--', 'node', APP], /option 'event': invalid value 'sometimes'/],
    [['record', '--interval', '1us', '--', 'node', APP], /option 'interval': invalid value '1us'/],
    [['record', '-o', path.join(dir, 'x.json'), '--', 'node', APP], /suffix '\.json'/],
    [['record', '--', 'python3', 'app.py'], /'python3' is not node or a \.js file/],
    [['record'], /give the program after --/],
    [['top', path.join(dir, 'missing.pb.gz')], /polyprof top: .*no such file/],
    [['top'], /give one profile file/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    assert.strictEqual(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
