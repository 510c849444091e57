'use strict';
// The install script builds against the headers of the Node that runs it,
// whatever npm's configuration names (npm applies a global nodedir to every
// Node it runs under), and refuses headers that were named explicitly but
// belong to another Node, saying which versions they are.
const test = require('node:test');
const assert = require('node:assert');
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');
const { REPO, tmpdir } = require('./helpers');

const BUILD = path.join(REPO, 'node/scripts/build.js');

// A prefix with the headers of a Node that is not this one.
function otherNodeHeaders() {
  const prefix = tmpdir();
  fs.mkdirSync(path.join(prefix, 'include/node'), { recursive: true });
  fs.writeFileSync(path.join(prefix, 'include/node/node.h'), '');
  fs.writeFileSync(
    path.join(prefix, 'include/node/node_version.h'),
    '#define NODE_MAJOR_VERSION 18\n#define NODE_MINOR_VERSION 0\n#define NODE_PATCH_VERSION 0\n#define NODE_MODULE_VERSION 108\n',
  );
  return prefix;
}

function headersChoice(env) {
  const clean = { ...process.env };
  for (const k of Object.keys(clean)) if (/^(npm_config_nodedir|POLYPROF_NODEDIR)$/i.test(k)) delete clean[k];
  return spawnSync(process.execPath, [BUILD, '--headers'], { encoding: 'utf8', env: { ...clean, ...env } });
}

test("npm's nodedir naming another Node's headers is passed over, and says so", () => {
  const other = otherNodeHeaders();
  const r = headersChoice({ npm_config_nodedir: other });
  assert.strictEqual(r.status, 0, r.stderr);
  const own = path.resolve(process.execPath, '../..');
  assert.match(r.stdout, new RegExp(`headers of Node ${process.version.replace(/\./g, '\\.')} in ${own}/include/node`));
  assert.match(r.stdout, /npm's nodedir setting .* is not used: .*headers of Node v18\.0\.0 \(NODE_MODULE_VERSION 108\)/);
});

test('POLYPROF_NODEDIR naming headers of another Node stops the build with both versions', () => {
  const r = headersChoice({ POLYPROF_NODEDIR: otherNodeHeaders() });
  assert.strictEqual(r.status, 1);
  assert.match(r.stderr, /POLYPROF_NODEDIR=.* does not fit Node v\d+/);
  assert.match(r.stderr, new RegExp(`Node v18\\.0\\.0 \\(NODE_MODULE_VERSION 108\\); this Node, ${process.version.replace(/\./g, '\\.')}, needs ${process.versions.modules}`));
});

test("the C++ standard is the one the headers' Node was built with", () => {
  const r = spawnSync(process.execPath, [path.join(REPO, 'node/scripts/cxx_std.js'), path.resolve(process.execPath, '../..')], {
    encoding: 'utf8',
  });
  assert.strictEqual(r.status, 0, r.stderr);
  const major = Number(process.versions.node.split('.')[0]);
  // V8's headers require C++20 from Node 24 (v8config.h says so).
  assert.strictEqual(r.stdout.trim(), major >= 24 ? '-std=c++20' : '-std=c++17');
});
