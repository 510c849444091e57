'use strict';
// Prints the -std= flag to compile the addon's C++ with, for binding.gyp:
// the standard the Node whose headers are at argv[2] (node-gyp's
// node_root_dir) was built with, from its common.gypi (Node 20 and 22: C++17;
// V8's headers in Node 24 and later require C++20), as plain ISO C++ rather
// than the GNU dialect. Node's own -std=gnu++NN is taken out in binding.gyp.
const fs = require('fs');
const path = require('path');

const nodeDir = process.argv[2];
const gypi = path.join(nodeDir || '', 'include/node/common.gypi');
let text;
try {
  text = fs.readFileSync(gypi, 'utf8');
} catch (e) {
  process.stderr.write(`polyprof: cannot read ${gypi} (the Node headers' build settings): ${e.message}\n`);
  process.exit(1);
}
// The Linux flags: "'cflags_cc': [ ..., '-std=gnu++17' ]" (the Xcode and AIX
// settings name other standards and are not on an -std= line of their own
// form); the highest standard named is the one V8 needs.
const years = [...text.matchAll(/'-std=(?:gnu|c)\+\+(\d\d)'/g)].map((m) => Number(m[1])).filter((y) => y >= 17);
if (years.length === 0) {
  process.stderr.write(`polyprof: ${gypi} names no C++ standard (-std=gnu++NN)\n`);
  process.exit(1);
}
process.stdout.write(`-std=c++${Math.max(...years)}\n`);
