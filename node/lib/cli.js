#!/usr/bin/env node
'use strict';
// polyprof command line for Node programs:
//   polyprof record [-o out.pb.gz] [--interval 10ms] [--duration 30s] [--mode cpu|wall|v8|alloc]
//                   [--alloc-interval 512k] [--format F] -- node [node flags] app.js [args]
//   polyprof top profile.pb.gz [-n 20] [--sample-index wall]
//   polyprof store list|show [-1|FILE] [--store DIR] [--key-file PATH] [-n 20]
//   polyprof diff base.pb.gz new.pb.gz [-o diff.html] [--format html|text] [--sample-index cpu]
//   polyprof convert in.pb.gz -o out.speedscope.json [--from F] [--to F]
const path = require('path');
const { spawn } = require('child_process');

const USAGE = `usage:
  polyprof record [-o OUT] [--interval 10ms] [--duration 30s] [--mode cpu|wall|v8|alloc|cpu+alloc]
                  [--alloc-interval 512k] [--format F] -- node [flags] app.js [args]
      runs the program with the profiler preloaded; the output suffix picks the format;
      --mode alloc samples the main thread's allocations, one per --alloc-interval bytes on average;
      cpu+alloc (wall+alloc, v8+alloc) both, the allocation profile to OUT with .alloc before the suffix
      (.pb.gz/.pprof pprof, .folded collapsed stacks, .top text report, .cpuprofile Chrome DevTools, .html flame graph)
  polyprof top PROFILE [-n 20] [--sample-index NAME]
      the hottest functions of a pprof profile
  polyprof flamegraph PROFILE [-o OUT.html]
      an interactive flame graph, one self-contained HTML file
  polyprof store list|show [-1|FILE] [--store DIR] [--key-file PATH] [-n 20]
      the local store ($POLYPROF_STORE or ./profiles): its profiles, or one as a top-N report (-1: the newest);
      encrypted profiles are read with --key-file or $POLYPROF_STORE_KEY
  polyprof diff BASE NEW [-o OUT.html] [--format html|text] [--sample-index NAME] [--from F] [-n 20]
      a differential flame graph (-o x.html), or the functions whose share changed most (text, on stdout)
  polyprof convert IN -o OUT [--from F] [--to F]
      between pprof (.pb.gz, .pprof), collapsed (.folded), speedscope (.speedscope.json) and .cpuprofile
  (polyprof serve, the store browser, is in the Python package: pip install polyprof)`;

function die(msg) {
  process.stderr.write(`${msg}\n`);
  process.exit(1);
}

// Options before the program: "--name value" or "--name=value"; the
// program starts at "--" or at the first word that is not an option.
function parseArgs(argv, spec, cmd) {
  const opts = {};
  const rest = [];
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-h' || a === '--help') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (!a.startsWith('-') || a === '-' || (cmd === 'store' && /^-\d+$/.test(a))) {
      if (cmd === 'record') break;
      rest.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const name = spec[flag];
    if (!name) die(`polyprof ${cmd}: unknown option ${flag}\n${USAGE}`);
    let value;
    if (eq > 0) value = a.slice(eq + 1);
    else if (i + 1 < argv.length) value = argv[++i];
    else die(`polyprof ${cmd}: ${flag} needs a value`);
    opts[name] = value;
  }
  return { opts, rest: rest.concat(argv.slice(i)) };
}

// [interpreter, its flags, script and args]: `node [flags] app.js ...` or `app.js ...`.
function splitNodeCommand(cmd) {
  if (cmd.length === 0) die('polyprof record: give the program after --, e.g. polyprof record -- node app.js');
  if (/\.[cm]?js$/.test(cmd[0])) return [process.execPath, cmd];
  if (!/^node(js)?(\d+)?$/.test(path.basename(cmd[0]))) {
    die(
      `polyprof record: '${cmd[0]}' is not node or a .js file; polyprof record runs Node programs ` +
        '(polyprof record -- node app.js). Python has its own: pip install polyprof.',
    );
  }
  return [cmd[0], cmd.slice(1)];
}

function record(argv) {
  const { opts, rest } = parseArgs(
    argv,
    {
      '-o': 'output',
      '--output': 'output',
      '--interval': 'interval',
      '--duration': 'duration',
      '--mode': 'mode',
      '--alloc-interval': 'allocInterval',
      '--format': 'format',
    },
    'record',
  );
  const native = require('./native');
  const { DEFAULT_MODE, DEFAULT_SIGNAL, withAllocations } = require('./options');
  const { checkOutputPath } = require('./session');
  const output = path.resolve(opts.output ?? 'profile.pb.gz');
  const asked = opts.mode ?? DEFAULT_MODE;
  // --mode cpu+alloc: the time profile goes to OUT, the allocation profile
  // next to it (out.pb.gz -> out.alloc.pb.gz), as in Python's polyprof record.
  const mode = withAllocations(asked) ?? asked;
  const alloc = mode !== asked ? { event: 'alloc' } : null;
  const core = { interval: opts.interval ?? '10ms' };
  if (opts.duration !== undefined) core.duration = opts.duration;
  try {
    if (opts.allocInterval !== undefined && mode !== 'alloc' && !alloc) {
      throw new Error('--alloc-interval needs --mode alloc (or cpu+alloc, wall+alloc, v8+alloc)');
    }
    if (alloc) {
      if (opts.allocInterval !== undefined) alloc.alloc_interval = opts.allocInterval;
      if (opts.duration !== undefined) alloc.duration = opts.duration;
      native.parseOptions(alloc);
      alloc.output = allocOutputPath(output);
      checkOutputPath(alloc.output, opts.format);
    }
    if (mode === 'v8') {
      core.native = 'false';
    } else if (mode === 'alloc') {
      delete core.interval;
      core.event = 'alloc';
      if (opts.allocInterval !== undefined) core.alloc_interval = opts.allocInterval;
    } else {
      native.parseOptions({ event: mode }); // the core's message for a bad mode
      Object.assign(core, { event: mode, native: 'true', signal: DEFAULT_SIGNAL });
    }
    native.parseOptions(core); // the core's checks and messages for interval and duration
    checkOutputPath(output, opts.format);
  } catch (e) {
    die(`polyprof record: ${e.message}`);
  }
  const [interp, args] = splitNodeCommand(rest);
  const child = spawn(interp, ['--require', path.join(__dirname, 'record.js'), ...args], {
    stdio: 'inherit',
    env: { ...process.env, POLYPROF_RECORD: JSON.stringify({ output, format: opts.format ?? null, options: core, alloc }) },
  });
  // ^C goes to the whole process group: the child writes its profile and
  // exits; this process waits for it instead of dying first.
  const ignore = () => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', (sig) => child.kill(sig));
  child.on('error', (e) => die(`polyprof record: cannot run ${interp}: ${e.message}`));
  child.on('exit', (code, signal) => {
    process.removeListener('SIGINT', ignore);
    process.exit(signal ? 128 + (require('os').constants.signals[signal] ?? 0) : code);
  });
}

// Where the allocation profile of a combined mode goes: out.pb.gz -> out.alloc.pb.gz.
function allocOutputPath(file) {
  for (const suffix of ['.pb.gz', '.pprof', '.folded', '.collapsed', '.txt', '.top', '.cpuprofile', '.html']) {
    if (file.endsWith(suffix)) return `${file.slice(0, -suffix.length)}.alloc${suffix}`;
  }
  return `${file}.alloc`;
}

function flamegraph(argv) {
  const { opts, rest } = parseArgs(argv, { '-o': 'output', '--output': 'output' }, 'flamegraph');
  if (rest.length !== 1) die(`polyprof flamegraph: give one profile file\n${USAGE}`);
  const { load } = require('./profile');
  const input = rest[0];
  const output = opts.output ?? `${input.replace(/(\.pb)?\.gz$|\.pprof$|\.pb$/, '')}.html`;
  try {
    load(input).write(output, 'html');
  } catch (e) {
    die(`polyprof flamegraph: ${e.message}`);
  }
  process.stderr.write(`polyprof: wrote ${output}\n`);
}

function top(argv) {
  const { opts, rest } = parseArgs(argv, { '-n': 'n', '--sample-index': 'sampleIndex' }, 'top');
  if (rest.length !== 1) die(`polyprof top: give one profile file\n${USAGE}`);
  const n = opts.n === undefined ? 20 : Number(opts.n);
  if (!Number.isInteger(n) || n <= 0) die('polyprof top: -n must be a positive whole number');
  const { load } = require('./profile');
  let prof;
  try {
    prof = load(rest[0]);
  } catch (e) {
    die(`polyprof top: ${e.message}`);
  }
  let index = -1;
  if (opts.sampleIndex !== undefined) {
    const names = prof.valueTypes.map(([t]) => t);
    index = names.indexOf(opts.sampleIndex);
    if (index < 0) die(`polyprof top: no sample type '${opts.sampleIndex}' in ${rest[0]} (it has: ${names.join(', ')})`);
  }
  process.stdout.write(prof.report(n, index));
}

// The local store, through the core's reader (which decrypts).
function store(argv) {
  const { opts, rest } = parseArgs(argv, { '--store': 'store', '--key-file': 'keyFile', '-n': 'n' }, 'store');
  const [action, which] = rest;
  if (action !== 'list' && action !== 'show') die(`polyprof store: expected list or show\n${USAGE}`);
  const n = opts.n === undefined ? 20 : Number(opts.n);
  if (!Number.isInteger(n) || n <= 0) die('polyprof store: -n must be a positive whole number');
  const { Store } = require('./continuous');
  let s, entries;
  try {
    s = new Store(opts.store, { keyFile: opts.keyFile });
    entries = s.list();
  } catch (e) {
    die(`polyprof store: ${e.message}`);
  }
  if (action === 'list') {
    if (entries.length === 0) process.stdout.write(`no profiles in ${s.directory}\n`);
    for (const e of entries) {
      const stamp = new Date(e.start * 1000).toISOString().replace('T', ' ').slice(0, 19);
      process.stdout.write(`${stamp}  ${e.service.padEnd(12)} ${e.type.padEnd(5)} ${e.trigger.padEnd(11)} ` +
                           `${String(e.bytes).padStart(8)}  ${e.file}\n`);
    }
    return;
  }
  if (!which) die('polyprof store show: give a profile: a file name from `polyprof store list`, or -1 for the newest');
  let file = /^-?\d+$/.test(which) ? entries.at(Number(which))?.file : undefined;
  if (file === undefined) {
    const candidate = which.includes(path.sep) ? which : path.join(s.directory, which);
    if (require('fs').existsSync(candidate)) file = candidate;
  }
  if (file === undefined) die(`polyprof store show: no profile '${which}' in ${s.directory}`);
  const shown = file.includes(path.sep) ? file : path.join(s.directory, file);
  if (shown.endsWith('.enc') && !opts.keyFile && !process.env.POLYPROF_STORE_KEY) {
    die(`polyprof store show: ${shown} is encrypted: pass --key-file or set POLYPROF_STORE_KEY`);
  }
  let prof;
  try {
    prof = s.read(file);
  } catch (e) {
    die(`polyprof store show: ${e.message}`);
  }
  process.stdout.write(`${shown}\n${prof.report(n)}`);
}

function loadOrDie(cmd, file, format) {
  const { load } = require('./profile');
  try {
    return load(file, format);
  } catch (e) {
    return die(`polyprof ${cmd}: ${e.message}`);
  }
}

function diff(argv) {
  const { opts, rest } = parseArgs(
    argv,
    { '-o': 'output', '--output': 'output', '--format': 'format', '--sample-index': 'sampleIndex', '--from': 'from', '-n': 'n' },
    'diff',
  );
  if (rest.length !== 2) die(`polyprof diff: give two profiles, the base then the new one\n${USAGE}`);
  const n = opts.n === undefined ? 20 : Number(opts.n);
  if (!Number.isInteger(n) || n <= 0) die('polyprof diff: -n must be a positive whole number');
  const format = opts.format ?? (opts.output && /\.html?$/i.test(opts.output) ? 'html' : 'text');
  if (format !== 'html' && format !== 'text') die(`polyprof diff: --format is html or text, not '${format}'`);
  const base = loadOrDie('diff', rest[0], opts.from);
  const current = loadOrDie('diff', rest[1], opts.from);
  let out;
  try {
    out = require('./profile').diff(base, current, format, opts.sampleIndex ?? null, n);
  } catch (e) {
    die(`polyprof ${e.message}`); // the core's message starts with "diff:"
  }
  if (!opts.output) return process.stdout.write(out);
  require('fs').writeFileSync(opts.output, out);
  process.stderr.write(`polyprof: wrote ${opts.output}\n`);
}

function convert(argv) {
  const { opts, rest } = parseArgs(
    argv,
    { '-o': 'output', '--output': 'output', '--from': 'from', '--to': 'to' },
    'convert',
  );
  if (rest.length !== 1 || !opts.output) die(`polyprof convert: give one input and -o OUTPUT\n${USAGE}`);
  const native = require('./native');
  let from;
  let to;
  try {
    from = opts.from ?? native.formatForPath(rest[0]);
    to = opts.to ?? native.formatForPath(opts.output);
  } catch (e) {
    die(`polyprof convert: ${e.message}`);
  }
  const prof = loadOrDie('convert', rest[0], from);
  try {
    prof.write(opts.output, to);
  } catch (e) {
    die(`polyprof convert: ${e.message}`);
  }
  process.stderr.write(`polyprof: wrote ${opts.output} (${to})\n`);
}

function main() {
  const [cmd, ...argv] = process.argv.slice(2);
  if (cmd === 'record') return record(argv);
  if (cmd === 'top') return top(argv);
  if (cmd === 'flamegraph') return flamegraph(argv);
  if (cmd === 'store') return store(argv);
  if (cmd === 'diff') return diff(argv);
  if (cmd === 'convert') return convert(argv);
  if (cmd === '-h' || cmd === '--help') return process.stdout.write(`${USAGE}\n`);
  die(cmd ? `polyprof: unknown command '${cmd}'\n${USAGE}` : USAGE);
}

main();
