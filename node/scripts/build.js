#!/usr/bin/env node
'use strict';
// Builds the addon (build/Release/polyprof.node) with node-gyp against the
// headers of the Node that runs this script: the package's install script.
// Nothing is downloaded: node-gyp gets --nodedir, so it never fetches a
// headers tarball from nodejs.org, and node-gyp itself is the copy npm ships.
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const root = path.resolve(__dirname, '../..');

function fail(lines) {
  process.stderr.write(`polyprof: cannot build the Node addon:\n  ${[].concat(lines).join('\n  ')}\n`);
  process.exit(1);
}

// The addon uses V8's API (CpuProfiler), so it must be compiled against the
// headers of this very Node: a prefix whose include/node has node.h and whose
// NODE_MODULE_VERSION is process.versions.modules (else Node refuses to load it).
function moduleVersionOf(prefix) {
  try {
    const text = fs.readFileSync(path.join(prefix, 'include/node/node_version.h'), 'utf8');
    const m = /#define NODE_MODULE_VERSION (\d+)/.exec(text);
    return m ? m[1] : null;
  } catch {
    return null;
  }
}

function findNodeDir() {
  const tried = [];
  // npm's own --nodedir setting (npm_config_nodedir) wins, as it does for node-gyp.
  const candidates = [process.env.npm_config_nodedir, path.resolve(process.execPath, '../..'), '/usr', '/usr/local'];
  for (const prefix of new Set(candidates.filter(Boolean))) {
    const header = path.join(prefix, 'include/node/node.h');
    if (!fs.existsSync(header)) {
      tried.push(`${header}: not found`);
      continue;
    }
    const abi = moduleVersionOf(prefix);
    if (abi !== process.versions.modules) {
      tried.push(`${header}: headers of another Node (NODE_MODULE_VERSION ${abi}, this Node ${process.version} is ${process.versions.modules})`);
      continue;
    }
    return prefix;
  }
  fail([
    `no headers for Node ${process.version} (${process.execPath}); looked at:`,
    ...tried.map((t) => `  ${t}`),
    'install them (Debian/Ubuntu with NodeSource: they come with the nodejs package; Debian\'s own: apt-get install libnode-dev),',
    'or point npm at them: npm install --nodedir=/prefix/with/include/node',
  ]);
}

// node-gyp ships inside npm. npm tells its lifecycle scripts where
// (npm_config_node_gyp); outside npm (node node/scripts/build.js) we look in
// npm's directory next to this Node, then for a locally installed node-gyp.
// Not a dependency of the package: that would download it at install time.
function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  if (process.env.npm_execpath) {
    // .../node_modules/npm/bin/npm-cli.js -> .../node_modules/npm/node_modules/node-gyp
    candidates.push(path.resolve(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'));
  }
  candidates.push(path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
  try {
    candidates.push(require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] }));
  } catch {
    // not installed locally: fine
  }
  for (const c of candidates) {
    if (fs.existsSync(c)) return c;
  }
  fail([
    'node-gyp not found; looked at:',
    ...candidates.map((c) => `  ${c}`),
    'it comes with npm (run the build through npm install), or: npm install --no-save node-gyp',
  ]);
}

function checkSystemHeaders() {
  const dirs = ['/usr/include', '/usr/local/include', '/usr/include/x86_64-linux-gnu', '/usr/include/aarch64-linux-gnu'];
  const missing = [];
  const has = (h) => dirs.some((d) => fs.existsSync(path.join(d, h)));
  if (!has('libunwind.h')) missing.push('libunwind.h (Debian/Ubuntu: apt-get install libunwind-dev)');
  if (!has('zlib.h')) missing.push('zlib.h (Debian/Ubuntu: apt-get install zlib1g-dev)');
  if (missing.length) fail(['these system headers are missing:', ...missing.map((m) => `  ${m}`)]);
}

function main() {
  if (process.platform !== 'linux') {
    fail(`polyprof profiles Linux processes (per-thread CPU timers, libunwind); this is ${process.platform}`);
  }
  checkSystemHeaders();
  const nodedir = findNodeDir();
  const nodeGyp = findNodeGyp();
  // "configure build", not "rebuild": rebuild starts with node-gyp clean,
  // which deletes all of build/, and build/ also holds setup.py's output and
  // tests/run_all.sh's venvs and CMake trees. configure regenerates the
  // Makefiles every time and make rebuilds what changed.
  const args = [nodeGyp, 'configure', 'build', `--nodedir=${nodedir}`];
  process.stdout.write(`polyprof: ${process.execPath} ${args.join(' ')}\n`);
  // binding.gyp runs `node node/scripts/sources.js`: make that the same Node.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH || ''}` };
  if (process.env.POLYPROF_WERROR === '1') {
    // As setup.py does for CI: warnings fail the build. gyp's Makefiles
    // append CFLAGS/CXXFLAGS from the environment to every compile.
    env.CFLAGS = `${env.CFLAGS || ''} -Werror`.trim();
    env.CXXFLAGS = `${env.CXXFLAGS || ''} -Werror`.trim();
    process.stdout.write('polyprof: POLYPROF_WERROR=1: warnings are errors\n');
  }
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit', env });
  if (r.error) fail(`could not run node-gyp: ${r.error.message}`);
  if (r.status !== 0) fail(`node-gyp failed (exit ${r.status}${r.signal ? `, signal ${r.signal}` : ''}); its output is above`);
  process.stdout.write(`polyprof: built ${path.join(root, 'build/Release/polyprof.node')}\n`);
}

main();
