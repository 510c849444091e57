'use strict';
// Modes 'cpu' and 'wall' read each JavaScript frame off the native walk (the
// frame pointer the walk stepped by, and the bytecode array and offset an
// interpreted frame keeps below it) instead of asking V8 to walk the stack
// again. In every tier V8 runs code in, the stacks must stay whole: the
// same call chain, through a builtin, in the interpreter (--jitless), in
// baseline code (--always-sparkplug) and in V8's default tiering; and no
// worse than V8's own walk (POLYPROF_NODE_JS_FRAMES=v8) in the same run.
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawnSync } = require('child_process');
const { REPO } = require('./helpers');

const WORKLOAD = path.join(__dirname, 'workloads', 'tiers.js');

function run(flags, env) {
  const r = spawnSync(process.execPath, ['--allow-natives-syntax', ...flags, WORKLOAD, '1500', REPO], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  assert.strictEqual(r.status, 0, `node ${flags.join(' ')}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

for (const [tier, flags] of [
  ['default tiering', []],
  ['the interpreter only (--jitless)', ['--jitless']],
  ['baseline code (--always-sparkplug)', ['--always-sparkplug']],
]) {
  test(`JavaScript frames read off the native walk keep the whole call chain: ${tier}`, () => {
    const own = run(flags, {});
    const v8 = run(flags, { POLYPROF_NODE_JS_FRAMES: 'v8' });
    assert.strictEqual(own.jsFramesFromNative, 1, 'frames read off the native walk');
    assert.strictEqual(v8.jsFramesFromNative, 0, 'POLYPROF_NODE_JS_FRAMES=v8: frames from V8');
    assert.ok(own.inLeaf >= 50, `${own.inLeaf} samples in leafwork`);
    const share = (r) => r.whole / r.inLeaf;
    assert.ok(share(own) >= 0.9, `whole chain on ${own.whole} of ${own.inLeaf} samples in leafwork`);
    assert.ok(share(own) >= share(v8) - 0.05, `whole chain: ${share(own).toFixed(3)}, V8's walk ${share(v8).toFixed(3)}`);
    // Samples the native walk could not serve (a V8 frame without a frame
    // pointer it could vouch for) are V8's to walk: rare.
    assert.ok(own.v8WalksAfterNative <= 0.05 * own.samples, `${own.v8WalksAfterNative} of ${own.samples} samples`);
  });
}
