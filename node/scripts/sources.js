'use strict';
// Prints the C and C++ sources of the given directories (relative to the
// repository root) for binding.gyp, so a file added to the core is built
// without editing the gyp file.
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '../..');
const out = [];
for (const dir of process.argv.slice(2)) {
  for (const f of fs.readdirSync(path.join(root, dir)).sort()) {
    if (/\.(c|cc)$/.test(f)) out.push(`${dir}/${f}`);
  }
}
process.stdout.write(out.join('\n') + '\n');
