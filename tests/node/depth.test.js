'use strict';
// Stack depth: recursion 400 deep is whole at the default depth (1024
// frames), root and leaf in one stack; depth=64 keeps the leaf side and says
// the rest was cut. The same for allocation stacks (mode 'alloc').
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawnSync } = require('child_process');

function runDeep(...args) {
  return runWorkload([path.join(__dirname, 'workloads', 'deep.js'), ...args]);
}

function runWorkload(argv) {
  const proc = spawnSync(process.execPath, argv, { encoding: 'utf8', timeout: 120000 });
  assert.strictEqual(proc.status, 0, proc.stderr);
  const lines = proc.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

const sum = (ss) => ss.reduce((t, s) => t + s.count, 0);

test('recursion 400 deep is whole at the default depth', () => {
  const { samples } = runDeep('400');
  const total = sum(samples);
  assert.ok(total > 50, `${total} samples`);
  const truncated = samples.filter((s) => s.names.includes('[truncated]'));
  assert.ok(sum(truncated) <= 0.01 * total, `${sum(truncated)} of ${total} truncated`);
  const whole = samples.filter((s) => s.names.includes('deepest') && s.names.includes('rootOfRecursion'));
  assert.ok(sum(whole) >= 0.8 * total, `${sum(whole)} of ${total} from the deepest frame to the root`);
  for (const s of whole) assert.strictEqual(s.names.filter((n) => n === 'down').length, 401);
});

test('depth=64 keeps the leaf side and marks the cut', () => {
  const { samples } = runDeep('400', 'depth=64');
  const deep = samples.filter((s) => s.names.includes('deepest'));
  assert.ok(deep.length > 0);
  for (const s of deep) {
    assert.strictEqual(s.names[s.names.length - 1], '[truncated]');
    assert.ok(!s.names.includes('rootOfRecursion'));
    assert.ok(s.names.length <= 64 + 2, `${s.names.length} frames`);
  }
});

// --no-opt: no inlining folds a frame of the recursion into another.
function runAllocDeep(...args) {
  return runWorkload(['--no-opt', path.join(__dirname, 'workloads', 'alloc_deep.js'), ...args]);
}

const bytes = (ss) => ss.reduce((t, s) => t + s.bytes, 0);

test('allocations 400 calls deep are whole at the default depth', () => {
  const { samples, metadata } = runAllocDeep('400');
  const atBottom = samples.filter((s) => s.names.includes('allocateAtTheBottom'));
  assert.ok(bytes(atBottom) >= 0.8 * bytes(samples), `${bytes(atBottom)} of ${bytes(samples)} bytes`);
  for (const s of atBottom) {
    assert.ok(!s.names.includes('[truncated]'), s.names.slice(-3).join(' < '));
    assert.ok(s.names.includes('rootOfRecursion'), s.names.slice(-3).join(' < '));
    assert.strictEqual(s.names.filter((n) => n === 'down').length, 401);
  }
  assert.strictEqual(metadata.truncated, 0);
});

test('allocation stacks deeper than depth=64 keep the leaf side and mark the cut', () => {
  const { samples, metadata } = runAllocDeep('400', 'depth=64');
  const atBottom = samples.filter((s) => s.names.includes('allocateAtTheBottom'));
  assert.ok(bytes(atBottom) >= 0.8 * bytes(samples), `${bytes(atBottom)} of ${bytes(samples)} bytes`);
  for (const s of atBottom) {
    assert.strictEqual(s.names[0], 'allocateAtTheBottom');
    assert.strictEqual(s.names[s.names.length - 1], '[truncated]');
    assert.strictEqual(s.names.length, 64 + 1);
    assert.ok(!s.names.includes('rootOfRecursion'));
  }
  assert.ok(metadata.truncated > 0, JSON.stringify(metadata));
});

test('an allocation stack exactly as deep as depth= is whole; one frame deeper is cut', () => {
  const whole = runAllocDeep('100').samples.filter((s) => s.names.includes('allocateAtTheBottom'));
  assert.ok(whole.length > 0);
  const frames = whole[0].names.length;  // the recursion, and Node's module loader under it
  for (const [depth, cut] of [[frames, false], [frames - 1, true]]) {
    const { samples } = runAllocDeep('100', `depth=${depth}`);
    const atBottom = samples.filter((s) => s.names.includes('allocateAtTheBottom'));
    assert.ok(atBottom.length > 0);
    for (const s of atBottom) {
      assert.strictEqual(s.names.includes('[truncated]'), cut, `depth=${depth}: ${s.names.slice(-3).join(' < ')}`);
      assert.strictEqual(s.names.length, cut ? depth + 1 : depth);
    }
  }
});
