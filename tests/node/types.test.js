'use strict';
// The TypeScript declarations (node/index.d.ts) compile against code that
// uses the API, and reject code that misuses it (tests/node/types/usage.ts).
const test = require('node:test');
const assert = require('node:assert');
const path = require('path');
const { spawnSync } = require('child_process');
const { REPO } = require('./helpers');

test('index.d.ts: tsc --noEmit accepts the usage and rejects the misuse', () => {
  let tsc;
  try {
    tsc = require.resolve('typescript/bin/tsc', { paths: [REPO] });
  } catch {
    assert.fail('typescript is not installed: run `npm install` at the repository root (it is a devDependency)');
  }
  const project = path.join(__dirname, 'types', 'tsconfig.json');
  const r = spawnSync(process.execPath, [tsc, '--noEmit', '-p', project], { encoding: 'utf8' });
  assert.strictEqual(r.status, 0, `tsc failed:\n${r.stdout}${r.stderr}`);
});
