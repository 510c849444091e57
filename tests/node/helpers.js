'use strict';
// Shared by the Node tests: Go (its pprof reader is the independent check of
// our pprof output), temporary directories, and the repository root.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const REPO = path.resolve(__dirname, '../..');

function findGo() {
  for (const dir of (process.env.PATH || '').split(path.delimiter).concat(['/usr/local/go/bin', '/usr/lib/go/bin'])) {
    const go = path.join(dir, 'go');
    if (dir && fs.existsSync(go)) return go;
  }
  throw new Error('go is not installed; `go tool pprof` reads our pprof output in these tests (see README.md)');
}

let pprofcheck = null;
// The repository's independent pprof validator (tests/go/pprofcheck, built
// on github.com/google/pprof/profile): parsed summary of a pprof file.
function checkPprof(file) {
  if (!pprofcheck) {
    pprofcheck = path.join(tmpdir(), 'pprofcheck');
    execFileSync(findGo(), ['build', '-o', pprofcheck, '.'], { cwd: path.join(REPO, 'tests/go/pprofcheck'), stdio: 'pipe' });
  }
  return JSON.parse(execFileSync(pprofcheck, [file], { encoding: 'utf8' }));
}

let base = null;
function tmpdir() {
  if (!base) {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'polyprof-node-test-'));
    process.on('exit', () => fs.rmSync(base, { recursive: true, force: true }));
  }
  return fs.mkdtempSync(path.join(base, 't-'));
}

// Burns CPU for ms in 40 ms bursts, leaving the event loop free in between.
async function workInBursts(ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const t = Date.now();
    let x = 0;
    while (Date.now() - t < 40) x += Math.sqrt(x + 1);
    await new Promise((r) => setTimeout(r, 5));
  }
}

module.exports = { REPO, findGo, checkPprof, tmpdir, workInBursts };
