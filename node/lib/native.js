'use strict';
// Loads the compiled addon. It lands in build/Release/polyprof.node at the
// package root (node-gyp's output directory), built by the install script.
const path = require('path');

const addonPath = path.resolve(__dirname, '../../build/Release/polyprof.node');

function load() {
  try {
    return require(addonPath);
  } catch (e) {
    if (e && e.code === 'MODULE_NOT_FOUND') {
      const err = new Error(
        `polyprof: the native addon is not built (${addonPath} is missing); ` +
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
