'use strict';
// Loads the addon: one built from source in build/Release/polyprof.node at
// the package root (node-gyp's output directory), else the prebuilt one that
// fits this Node (prebuilds/linux-x64/node.abiNNN.glibc.node), as
// node-gyp-build chooses them: the binary package carries it (node/vendor/,
// put there by tools/dist/build_npm.sh), a checkout has none.
const path = require('path');

const root = path.resolve(__dirname, '../..');
const builtPath = path.join(root, 'build/Release/polyprof.node');

function findAddon() {
  const loader = require('../scripts/loader').nodeGypBuild();
  if (!loader) return builtPath; // a checkout: the source build
  try {
    return loader.path(root);
  } catch {
    return builtPath; // none fits: the error below names the missing build
  }
}

const addonPath = findAddon();

function load() {
  try {
    return require(addonPath);
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND') {
      const err = new Error(
        `polyprof: the native addon is not built (${addonPath} is missing, and no prebuilt addon fits Node ${process.version}, NODE_MODULE_VERSION ${process.versions.modules}); ` +
          `build it with \`npm install\` in ${path.resolve(__dirname, '../..')} or \`node node/scripts/build.js\``,
      );
      err.cause = e;
      throw err;
    }
    // Most often: built for another Node (NODE_MODULE_VERSION mismatch); Node's message says which.
    throw e;
  }
}

const addon = load();
// This isolate takes part in signal-based sampling from now on: its
// JavaScript frames are recorded whenever the process is being profiled.
const { isMainThread, threadId } = require('worker_threads');
addon.register(isMainThread ? 'main' : `worker ${threadId}`);

module.exports = addon;
