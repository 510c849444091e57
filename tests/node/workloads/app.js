'use strict';
// A small program for `polyprof record`: burns CPU in two functions, then
// either exits or (with --serve) keeps running until it is signalled.
const { burnA, burnB, iterationsFor } = require('./burn');

const unit = iterationsFor(5);
function main() {
  for (let i = 0; i < 20; i++) {
    burnA(2 * unit);
    burnB(unit);
  }
}

main();
if (process.argv.includes('--serve')) {
  setInterval(() => burnA(unit), 20);
  process.stdout.write('serving\n');
} else {
  process.stdout.write(`done ${process.argv.slice(2).join(' ')}\n`);
}
