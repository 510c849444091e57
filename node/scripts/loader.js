'use strict';
// node-gyp-build (the npm registry's; it picks the addon that fits the
// running Node), as the binary package carries it: copied into node/vendor/
// by tools/dist/build_npm.sh, so installing needs neither the registry nor a
// compiler. null in a checkout, which builds from source.
const path = require('path');

function nodeGypBuild() {
  try {
    return require(path.join(__dirname, '../vendor/node-gyp-build'));
  } catch {
    return null;
  }
}

module.exports = { nodeGypBuild };
