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

// The addon uses V8's API (CpuProfiler, the JIT code events), so it must be
// compiled against the headers of this very Node: a prefix whose include/node
// has node.h and whose NODE_MODULE_VERSION is process.versions.modules (else
// Node refuses to load it), with the C++ standard those headers need.
function versionOf(prefix) {
  try {
    const text = fs.readFileSync(path.join(prefix, 'include/node/node_version.h'), 'utf8');
    const num = (name) => {
      const m = new RegExp(`#define ${name} (\\d+)`).exec(text);
      return m ? m[1] : null;
    };
    const [major, minor, patch] = ['NODE_MAJOR_VERSION', 'NODE_MINOR_VERSION', 'NODE_PATCH_VERSION'].map(num);
    return { node: `v${major}.${minor}.${patch}`, abi: num('NODE_MODULE_VERSION') };
  } catch {
    return null;
  }
}

// A prefix given as the include/node directory itself is taken too.
function asPrefix(dir) {
  const abs = path.resolve(dir);
  return fs.existsSync(path.join(abs, 'node.h')) && path.basename(abs) === 'node' ? path.resolve(abs, '../..') : abs;
}

// Why the headers under prefix do not fit this Node, or null when they do.
function misfit(prefix) {
  const header = path.join(prefix, 'include/node/node.h');
  if (!fs.existsSync(header)) return `${header}: not found`;
  const v = versionOf(prefix);
  if (!v) return `${prefix}/include/node/node_version.h: unreadable`;
  if (v.abi !== process.versions.modules) {
    return `${prefix}/include/node: headers of Node ${v.node} (NODE_MODULE_VERSION ${v.abi}); ` +
      `this Node, ${process.version}, needs ${process.versions.modules}`;
  }
  return null;
}

// In order: POLYPROF_NODEDIR (an explicit choice: used or refused, never
// skipped), the prefix this Node runs from (its own headers: the official
// tarballs and Debian's nodejs with libnode-dev have them), npm's nodedir
// setting, /usr and /usr/local. A candidate fits when its NODE_MODULE_VERSION
// is this Node's; npm's setting is only a candidate, because npm applies it to
// every Node it runs under (a global nodedir=/usr made a Node 24 install
// compile against Node 20's headers).
function findNodeDir() {
  const explicit = process.env.POLYPROF_NODEDIR;
  if (explicit) {
    const why = misfit(asPrefix(explicit));
    if (why) fail([`POLYPROF_NODEDIR=${explicit} does not fit Node ${process.version} (${process.execPath}):`, `  ${why}`]);
    return { prefix: asPrefix(explicit), why: 'POLYPROF_NODEDIR' };
  }
  const tried = [];
  const candidates = [
    [path.resolve(process.execPath, '../..'), `the prefix of ${process.execPath}`],
    [process.env.npm_config_nodedir, "npm's nodedir setting"],
    ['/usr', 'a system prefix'],
    ['/usr/local', 'a system prefix'],
  ];
  const seen = new Set();
  for (const [dir, why] of candidates) {
    if (!dir) continue;
    const prefix = asPrefix(dir);
    if (seen.has(prefix)) continue;
    seen.add(prefix);
    const bad = misfit(prefix);
    if (!bad) return { prefix, why };
    tried.push(`${bad} (${why})`);
  }
  fail([
    `no headers for Node ${process.version} (${process.execPath}, NODE_MODULE_VERSION ${process.versions.modules}); looked at:`,
    ...tried.map((t) => `  ${t}`),
    'install them (Debian/Ubuntu with NodeSource: they come with the nodejs package; Debian\'s own: apt-get install libnode-dev),',
    'or name the prefix that holds include/node: POLYPROF_NODEDIR=/prefix npm install',
  ]);
}

// node-gyp takes npm's settings from npm_config_* variables, and they win
// over its command line: npm's nodedir (or target, dist-url, tarball,
// runtime) would send it to other headers than the ones chosen here.
function gypEnv(env, nodedir) {
  const out = {};
  for (const [k, v] of Object.entries(env)) {
    if (/^npm_config_(nodedir|target|target_arch|arch|dist_url|disturl|tarball|runtime|devdir|ensure)$/i.test(k)) continue;
    if (/^npm_package_config_node_gyp_/i.test(k)) continue;
    out[k] = v;
  }
  out.npm_config_nodedir = nodedir;
  return out;
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
  // The npm on PATH (a Node without npm of its own, run with another's).
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    try {
      const cli = fs.realpathSync(path.join(dir, 'npm')); // .../npm/bin/npm-cli.js
      candidates.push(path.resolve(path.dirname(cli), '../node_modules/node-gyp/bin/node-gyp.js'));
      break;
    } catch {
      // no npm there
    }
  }
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

// node node/scripts/build.js [--headers]: builds the addon; with --headers,
// only says which Node headers it would build against.
function main() {
  if (process.platform !== 'linux') {
    fail(`polyprof profiles Linux processes (per-thread CPU timers, libunwind); this is ${process.platform}`);
  }
  if (!process.argv.includes('--headers')) checkSystemHeaders();
  const { prefix: nodedir, why } = findNodeDir();
  const v = versionOf(nodedir);
  process.stdout.write(
    `polyprof: Node ${process.version} (${process.execPath}): headers of Node ${v.node} in ${nodedir}/include/node (${why})\n`,
  );
  const configured = process.env.npm_config_nodedir;
  if (configured && asPrefix(configured) !== nodedir) {
    process.stdout.write(`polyprof: npm's nodedir setting (${configured}) is not used: ${misfit(asPrefix(configured)) || 'another Node\'s copy'}\n`);
  }
  if (process.argv.includes('--headers')) return; // which headers, and nothing else (tests, diagnosis)
  const nodeGyp = findNodeGyp();
  // "configure build", not "rebuild": rebuild starts with node-gyp clean,
  // which deletes all of build/, and build/ also holds setup.py's output and
  // tests/run_all.sh's venvs and CMake trees. configure regenerates the
  // Makefiles every time and make rebuilds what changed (the compile
  // commands name the headers' directory, so a build for another Node
  // recompiles everything).
  const args = [nodeGyp, 'configure', 'build', `--nodedir=${nodedir}`];
  process.stdout.write(`polyprof: ${process.execPath} ${args.join(' ')}\n`);
  // binding.gyp runs `node node/scripts/...`: make that the same Node.
  const env = gypEnv(
    { ...process.env, PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH || ''}` },
    nodedir,
  );
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
