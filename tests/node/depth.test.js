'use strict';
// Stack depth: recursion 400 deep is whole at the default depth (1024
// frames), root and leaf in one stack; depth=64 keeps the leaf side and says
// the rest was cut.
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawnSync } = require('child_process');

function runDeep(...args) {
  const proc = spawnSync(process.execPath, [path.join(__dirname, 'workloads', 'deep.js'), ...args],
    { encoding: 'utf8', timeout: 120000 });
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
