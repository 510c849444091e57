'use strict';
// The Profile a capture returns: a thin view over the core's aggregated
// profile. Every format, Chrome DevTools' .cpuprofile included, is written by
// the core's writers.
const fs = require('fs');
const native = require('./native');
const { PolyprofError } = require('./options');

// The core's name for the format: by suffix unless `format` names one.
function formatOf(file, format) {
  if (format === undefined || format === null) {
    try {
      return native.formatForPath(file);
    } catch (e) {
      throw new PolyprofError(e.message);
    }
  }
  if (typeof format !== 'string') throw new TypeError("format must be a string such as 'pprof' or 'cpuprofile'");
  try {
    native.parseOptions({ format }); // the core's table of format names
  } catch (e) {
    throw new PolyprofError(e.message);
  }
  return format;
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
    return this._native.write(file, formatOf(file, format));
  }

  /** The encoded profile (pprof by default). */
  toBuffer(format = 'pprof', top = 20) {
    return this._native.encode(formatOf('', format ?? 'pprof'), top);
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

  /** Chrome DevTools' CPU profile as an object (the core's .cpuprofile writer). */
  toCpuprofile() {
    return JSON.parse(this.toBuffer('cpuprofile').toString());
  }

  toString() {
    return `<polyprof.Profile ${this.samples().length} stacks, ${this.durationSeconds.toFixed(3)}s>`;
  }
}

/**
 * Reads a profile file back into a Profile: pprof (gzip-compressed or not),
 * collapsed stacks, speedscope JSON or Chrome's .cpuprofile, by the suffix
 * unless `format` names one. A file whose suffix names no format is read as
 * pprof.
 */
function load(file, format) {
  let fmt = format;
  let suffixError = null;
  if (fmt === undefined || fmt === null) {
    try {
      fmt = native.formatForPath(file);
    } catch (e) {
      fmt = 'pprof'; // a file named otherwise may still be pprof
      suffixError = new PolyprofError(e.message);
    }
  }
  const data = fs.readFileSync(file);
  try {
    return new Profile(native.decode(data, fmt));
  } catch (e) {
    throw suffixError ?? new PolyprofError(e.message);
  }
}

/**
 * The differential profile of `current` against `base` (Profiles), as a
 * Buffer: 'html' a differential flame graph, 'text' the functions whose
 * share changed most. sampleType picks the value (e.g. 'cpu').
 */
function diff(base, current, format = 'html', sampleType = null, top = 20) {
  if (!(base instanceof Profile) || !(current instanceof Profile)) throw new TypeError('diff: expected two Profiles');
  try {
    return native.diff(base._native, current._native, format, sampleType, top);
  } catch (e) {
    throw new PolyprofError(e.message);
  }
}

module.exports = { Profile, load, diff, formatOf };
