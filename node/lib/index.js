'use strict';
/**
 * polyprof for Node.js: sampling profiles written as pprof, collapsed stacks,
 * text reports or Chrome DevTools .cpuprofile, by the same C core as the
 * Python package.
 *
 *   const polyprof = require('polyprof');
 *   polyprof.start({ intervalMs: 10 });       // mode 'v8': V8's CpuProfiler
 *   ...
 *   const profile = polyprof.stop();
 *   profile.write('out.pb.gz');
 *   console.log(profile.report(20));
 */
const { PolyprofError } = require('./options');
const { Profile, load, diff } = require('./profile');
const { start, stop, isRunning, profile } = require('./session');
const { profileEndpoint } = require('./endpoint');
const { serve, serving } = require('./http_endpoint');
const { ContinuousProfiler, Store } = require('./continuous');
const { CircuitBreaker, TriggeredProfiler, configureRateLimit, latencyMiddleware } = require('./policies');

module.exports = {
  start,
  stop,
  isRunning,
  profile,
  profileEndpoint,
  serve,
  serving,
  ContinuousProfiler,
  Store,
  CircuitBreaker,
  TriggeredProfiler,
  configureRateLimit,
  latencyMiddleware,
  load,
  diff,
  Profile,
  PolyprofError,
  version: require('../../package.json').version,
};
