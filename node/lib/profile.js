'use strict';
// The Profile a capture returns: a thin view over the core's aggregated
// profile, which every format but one is written from by the core's writers.
// The exception is Chrome DevTools' .cpuprofile (JSON), written here from the
// same samples; see toCpuprofile().
const fs = require('fs');
const path = require('path');
const native = require('./native');
const { PolyprofError } = require('./options');

const CPUPROFILE = /\.cpuprofile$/i;

// 'cpuprofile', or the core's name for the format (by suffix unless `format` names one).
function formatOf(file, format) {
  if (format === undefined || format === null) {
    if (CPUPROFILE.test(file)) return 'cpuprofile';
    try {
      return native.formatForPath(file);
    } catch (e) {
      throw new PolyprofError(`${e.message}; or .cpuprofile for Chrome DevTools`);
    }
  }
  if (typeof format !== 'string') throw new TypeError("format must be a string such as 'pprof' or 'cpuprofile'");
  if (format.toLowerCase() === 'cpuprofile') return 'cpuprofile';
  try {
    native.parseOptions({ format }); // the core's table of format names
  } catch (e) {
    throw new PolyprofError(`${e.message}; or cpuprofile for Chrome DevTools`);
  }
  return format;
}

function writeAtomically(file, data) {
  // Like the core's writer: a reader never sees a half-written profile.
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing was written
    }
    throw new PolyprofError(`cannot write the profile to '${file}': ${e.message}`);
  }
}

class Profile {
  /** @param {object} nativeProfile the addon's profile object */
  constructor(nativeProfile) {
    this._native = nativeProfile;
  }

  /**
   * Writes to `file`. The format follows the suffix (.pb.gz/.pprof: pprof,
   * .folded/.collapsed/.txt: collapsed stacks, .top: text report,
   * .cpuprofile: Chrome DevTools) unless `format` names one.
   */
  write(file, format) {
    if (typeof file !== 'string') throw new TypeError('write: path must be a string');
    const f = formatOf(file, format);
    if (f === 'cpuprofile') return writeAtomically(file, JSON.stringify(this.toCpuprofile()));
    return this._native.write(file, f);
  }

  /** The encoded profile (pprof by default). */
  toBuffer(format = 'pprof', top = 20) {
    const f = formatOf('', format ?? 'pprof');
    if (f === 'cpuprofile') return Buffer.from(JSON.stringify(this.toCpuprofile()));
    return this._native.encode(f, top);
  }

  /** The top functions by cumulative value, with flat and cumulative shares. */
  report(top = 20, valueIndex = -1) {
    if (!Number.isInteger(top) || top <= 0) {
      throw new PolyprofError(`report: top must be a positive whole number of functions, not ${top}`);
    }
    return this._native.report(top, valueIndex);
  }

  /** Distinct stacks: {frames (leaf first: {name, file, line, kind}), values, labels}. */
  samples() {
    return this._native.samples();
  }

  /** [[type, unit], ...], e.g. [['samples', 'count'], ['wall', 'nanoseconds']]. */
  get valueTypes() {
    return this._native.valueTypes();
  }

  /** Free-form "key=value" metadata lines (pprof comments). */
  get comments() {
    return this._native.comments();
  }

  /** The comments as an object, numbers where they are numbers. */
  get metadata() {
    const out = {};
    for (const line of this.comments) {
      const i = line.indexOf('=');
      if (i < 0) continue;
      const value = line.slice(i + 1);
      out[line.slice(0, i)] = /^-?\d+$/.test(value) ? Number(value) : value;
    }
    return out;
  }

  get durationSeconds() {
    return this._native.durationNanos() / 1e9;
  }

  total(index = 0) {
    return this.samples().reduce((sum, s) => sum + s.values[index], 0);
  }

  /** The samples having label key=value. */
  filterLabel(key, value) {
    return new Profile(this._native.filterLabel(key, value));
  }

  /**
   * The samples that pass through function `name` (in `file`, when given),
   * cut so that its rootmost frame is their root (pprof's show_from).
   * Others are dropped, or kept whole with keepUnmatched.
   */
  showFrom(name, file, keepUnmatched = false) {
    return new Profile(this._native.showFrom(name, file, keepUnmatched));
  }

  /**
   * Chrome DevTools' CPU profile (the JSON of `node --cpu-prof`), built from
   * the aggregated samples: one node per distinct call path, each stack's
   * sample count repeated in `samples`, its time spread evenly over its
   * `timeDeltas` (microseconds). Samples are grouped by stack, not in the
   * order they were taken: the core keeps aggregates, not a timeline.
   */
  toCpuprofile() {
    const types = this.valueTypes;
    const countIndex = types.findIndex(([type, unit]) => type === 'samples' && unit === 'count');
    let timeIndex = -1;
    types.forEach(([, unit], i) => {
      if (unit === 'nanoseconds') timeIndex = i;
    });
    const scriptIds = new Map(); // url -> DevTools script id (strings, "0" for none)
    const scriptId = (url) => {
      if (!url) return '0';
      if (!scriptIds.has(url)) scriptIds.set(url, String(scriptIds.size + 1));
      return scriptIds.get(url);
    };
    const root = {
      id: 1,
      callFrame: { functionName: '(root)', scriptId: '0', url: '', lineNumber: -1, columnNumber: -1 },
      hitCount: 0,
      children: [],
    };
    const nodes = [root];
    const childIndex = [new Map()]; // per node (by id - 1): frame key -> child id
    const samples = [];
    const timeDeltas = [];
    for (const s of this.samples()) {
      let node = root;
      for (let d = s.frames.length - 1; d >= 0; d--) {
        const f = s.frames[d];
        const key = `${f.kind}\0${f.name}\0${f.file}\0${f.line}`;
        const children = childIndex[node.id - 1];
        let id = children.get(key);
        if (id === undefined) {
          id = nodes.length + 1;
          nodes.push({
            id,
            callFrame: {
              functionName: f.name,
              scriptId: scriptId(f.file),
              url: f.file,
              lineNumber: f.line > 0 ? f.line - 1 : -1, // DevTools counts from 0
              columnNumber: f.line > 0 ? 0 : -1, // unknown: the core keeps no columns
            },
            hitCount: 0,
            children: [],
          });
          childIndex.push(new Map());
          children.set(key, id);
          node.children.push(id);
        }
        node = nodes[id - 1];
      }
      const count = countIndex >= 0 ? s.values[countIndex] : 1;
      if (count <= 0) continue;
      node.hitCount += count;
      const totalUs = timeIndex >= 0 ? Math.round(s.values[timeIndex] / 1000) : 0;
      const base = Math.floor(totalUs / count);
      let extra = totalUs - base * count; // spread the remainder so the sum is exact
      for (let i = 0; i < count; i++) {
        samples.push(node.id);
        timeDeltas.push(base + (extra > 0 ? 1 : 0));
        if (extra > 0) extra--;
      }
    }
    const endTime = timeDeltas.reduce((a, b) => a + b, 0);
    return { nodes, startTime: 0, endTime, samples, timeDeltas };
  }

  toString() {
    return `<polyprof.Profile ${this.samples().length} stacks, ${this.durationSeconds.toFixed(3)}s>`;
  }
}

/** Reads a pprof file (gzip-compressed or not) back into a Profile. */
function load(file) {
  return new Profile(native.decodePprof(fs.readFileSync(file)));
}

module.exports = { Profile, load, formatOf };
