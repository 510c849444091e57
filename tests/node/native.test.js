'use strict';
// Modes 'cpu' and 'wall': JavaScript frames merged with the native frames
// libunwind finds, so time in C++ and C libraries called from JavaScript
// shows under the JavaScript function that called them; and the signal
// sampler running beside V8's own CPU profiler (node --cpu-prof).
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const polyprof = require('../..');
const { hashAll, compressAll, blockFor } = require('./workloads/native_work');
const { burnA } = require('./workloads/burn');
const { REPO, tmpdir } = require('./helpers');

// Frames leaf first. The part of a stack leafward of the rootmost frame named
// `js`: what that function's time was spent in.
function under(sample, js) {
  const i = sample.frames.map((f) => f.name).lastIndexOf(js);
  return i < 0 ? null : sample.frames.slice(0, i).reverse(); // root to leaf
}

// Between a user function and the native code it reaches there may be
// Node's own JavaScript (node:internal/...), V8's builtins, and C++; never
// frames the profiler could not name.
function assertNamed(frames, what) {
  for (const f of frames) {
    assert.ok(!/^\[(unknown|unresolved|anon)/.test(f.name) && !/^\[anon/.test(f.name), `${what}: unnamed frame ${f.name}`);
    if (f.kind === 'js') assert.ok(f.file.startsWith('node:') || f.file === '', `${what}: ${f.name} (${f.file})`);
  }
}

let profile;
test.before(() => {
  polyprof.start({ mode: 'cpu', intervalMs: 2 });
  hashAll(60);
  compressAll(20);
  profile = polyprof.stop();
});

test('a JavaScript function calling node:crypto shows OpenSSL frames under it', () => {
  const paths = profile.samples().map((s) => under(s, 'hashAll')).filter(Boolean);
  assert.ok(paths.length > 0, 'samples in hashAll');
  const inSha = paths.filter((p) => p.some((f) => f.kind === 'native' && /sha256|SHA256/.test(f.name)));
  assert.ok(inSha.length > 0, 'SHA-256 frames under hashAll');
  for (const p of inSha) {
    assertNamed(p, 'hashAll');
    // JavaScript first (hashAll's callees in node:crypto), then only native frames.
    const firstNative = p.findIndex((f) => f.kind === 'native');
    assert.ok(p.slice(firstNative).every((f) => f.kind === 'native'), p.map((f) => f.name).join(' > '));
    assert.ok(p.some((f) => f.kind === 'native' && f.name.startsWith('node::crypto::Hash::HashUpdate')));
  }
  // Most of hashAll's CPU is hashing.
  const t = (ps) => ps.length;
  assert.ok(t(inSha) / t(paths) > 0.5, `${inSha.length} of ${paths.length} hashAll stacks in SHA-256`);
});

test('a JavaScript function calling node:zlib shows deflate under it', () => {
  const paths = profile.samples().map((s) => under(s, 'compressAll')).filter(Boolean);
  assert.ok(paths.length > 0, 'samples in compressAll');
  const inZlib = paths.filter((p) => p.some((f) => f.kind === 'native' && /deflate|longest_match/.test(f.name)));
  assert.ok(inZlib.length > 0, 'zlib frames under compressAll');
  for (const p of inZlib) assertNamed(p, 'compressAll');
});

test('no V8 machinery shows: builtins, JIT code and API call glue are merged away', () => {
  for (const s of profile.samples()) {
    if (!s.frames.some((f) => f.kind === 'js')) continue;
    for (const f of s.frames) {
      assert.ok(!/^Builtins_|HandleApiCallHelper|\[anon:/.test(f.name), `${f.name} in ${s.frames.map((x) => x.name).join(';')}`);
    }
  }
});

test("mode wall: a thread blocked in the kernel is sampled; mode cpu does not count it", () => {
  const unit = 3e5;
  polyprof.start({ mode: 'wall', intervalMs: 5 });
  blockFor(300);
  burnA(unit);
  const wall = polyprof.stop();
  const blocked = wall.samples().filter((s) => s.labels.thread_name === 'main' && under(s, 'blockFor'));
  const t = blocked.reduce((a, s) => a + s.values[1], 0);
  assert.ok(t >= 200e6 && t <= 450e6, `wall time in blockFor: ${t / 1e6} ms of 300`);
  assert.ok(blocked.some((s) => under(s, 'blockFor').some((f) => /pthread_cond_timedwait|futex|WaitFor/.test(f.name))));
  assert.deepStrictEqual(wall.valueTypes[1], ['wall', 'nanoseconds']);

  polyprof.start({ mode: 'cpu', intervalMs: 5 });
  blockFor(300);
  const cpu = polyprof.stop();
  const cpuBlocked = cpu.samples().filter((s) => under(s, 'blockFor')).reduce((a, s) => a + s.values[1], 0);
  assert.ok(cpuBlocked <= 30e6, `CPU time in blockFor: ${cpuBlocked / 1e6} ms`);
});

test('node --cpu-prof and polyprof record at once: both profiles are whole', () => {
  const dir = tmpdir();
  const out = path.join(dir, 'app.pb.gz');
  const app = path.join(__dirname, 'workloads/app.js');
  const r = spawnSync(
    process.execPath,
    [path.join(REPO, 'node/lib/cli.js'), 'record', '-o', out, '--interval', '2ms', '--', 'node', '--cpu-prof', '--cpu-prof-dir', dir, app],
    { encoding: 'utf8' },
  );
  assert.strictEqual(r.status, 0, r.stderr);
  assert.ok(polyprof.load(out).samples().some((s) => s.frames.some((f) => f.name === 'burnA')), 'polyprof saw burnA');
  const cpuprofiles = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  assert.strictEqual(cpuprofiles.length, 1, fs.readdirSync(dir).join(', '));
  const cp = JSON.parse(fs.readFileSync(path.join(dir, cpuprofiles[0]), 'utf8'));
  assert.ok(cp.nodes.some((n) => n.callFrame.functionName === 'burnA'), "V8's profile saw burnA");
  assert.ok(cp.samples.length > 50, `V8 took ${cp.samples.length} samples`);
});
