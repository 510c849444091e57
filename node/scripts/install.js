#!/usr/bin/env node
'use strict';
// The package's install script: uses the prebuilt addon that fits the running
// Node (prebuilds/linux-x64/node.abiNNN.glibc.node, chosen by node-gyp-build
// as at load time), and builds from source (build.js) only when none fits -
// saying which, and why. POLYPROF_BUILD_FROM_SOURCE=1 always builds.
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '../..');
const here = `Node ${process.version} (NODE_MODULE_VERSION ${process.versions.modules}, ${process.platform}-${process.arch})`;

function prebuilt() {
  if (process.env.POLYPROF_BUILD_FROM_SOURCE === '1') return { why: 'POLYPROF_BUILD_FROM_SOURCE=1' };
  const loader = require('./loader').nodeGypBuild();
  if (!loader) return { why: 'this package carries no prebuilt addons (node-gyp-build is not in node/vendor/)' };
  try {
    const file = loader.path(root);
    // A source build already in build/ counts too (node-gyp-build prefers it).
    return { file };
  } catch {
    return { why: `no prebuilt addon for ${here}` };
  }
}

const found = prebuilt();
if (found.file) {
  process.stdout.write(`polyprof: using the prebuilt addon ${path.relative(root, found.file)} for ${here}\n`);
  process.exit(0);
}
process.stdout.write(`polyprof: ${found.why}; building the addon from source (needs a C/C++ compiler and libunwind-dev zlib1g-dev libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev)\n`);
const r = spawnSync(process.execPath, [path.join(__dirname, 'build.js')], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
