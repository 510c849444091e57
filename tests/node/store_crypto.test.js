'use strict';
// Encryption at rest in the Node addon, which calls the OpenSSL that node
// itself carries: continuous windows written encrypted, opened again by
// Node's own crypto module (an independent reader of the file format), read
// back by the core, and refused with a wrong or missing key.
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { spawnSync } = require('child_process');
const polyprof = require('../..');
const { REPO, tmpdir } = require('./helpers');

function burnForStoreCrypto(ms) {
  const t = Date.now();
  let x = 0;
  while (Date.now() - t < ms) x += Math.sqrt(x + 1);
  return x;
}

test('continuous windows are encrypted with Node\'s OpenSSL and read back', () => {
  const dir = tmpdir();
  const key = crypto.randomBytes(32);
  const keyFile = path.join(dir, 'store.key');
  fs.writeFileSync(keyFile, `${key.toString('base64')}\n`);
  const store = new polyprof.Store(path.join(dir, 'profiles'), { keyFile });
  const c = new polyprof.ContinuousProfiler({ intervalMs: 5, windowSeconds: 60, store, service: 'nodevault' }).start();
  burnForStoreCrypto(400);
  c.stop();

  const entries = store.list();
  assert.strictEqual(entries.length, 1, JSON.stringify(entries));
  assert.ok(entries[0].encrypted && entries[0].file.endsWith('_continuous.pb.gz.enc'), entries[0].file);
  const sealed = fs.readFileSync(store.path(entries[0]));
  assert.ok(sealed.subarray(0, 8).equals(Buffer.from('PPSTENC\x01', 'latin1')));
  // The core's reader; the hottest function it names is a string of the profile.
  const report = store.read(entries[0]).report(5);
  // (flat flat% cum cum% function [file:line])
  const hottest = report.split('\n')[2].trim().split(/\s+/)[4];
  assert.ok(hottest && hottest.length > 4, report);
  assert.ok(!sealed.includes(hottest) && !sealed.includes('nanoseconds'));

  // The documented layout, opened with Node's crypto: header as AAD.
  const header = sealed.subarray(0, 20);
  const decipher = crypto.createDecipheriv('aes-256-gcm', key, header.subarray(8, 20));
  decipher.setAAD(header);
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  const plain = Buffer.concat([decipher.update(sealed.subarray(20, sealed.length - 16)), decipher.final()]);
  const pprof = zlib.gunzipSync(plain);
  assert.ok(pprof.includes(hottest) && pprof.includes('nanoseconds'));

  // The CLI, on top of the core's reader.
  const cli = path.join(REPO, 'node/lib/cli.js');
  const env = { ...process.env };
  delete env.POLYPROF_STORE_KEY;
  const shown = spawnSync(process.execPath, [cli, 'store', 'show', '-1', '--store', store.directory, '--key-file', keyFile],
    { encoding: 'utf8', env });
  assert.strictEqual(shown.status, 0, shown.stderr);
  assert.ok(shown.stdout.includes(hottest), shown.stdout);
  const locked = spawnSync(process.execPath, [cli, 'store', 'show', '-1', '--store', store.directory], { encoding: 'utf8', env });
  assert.notStrictEqual(locked.status, 0);
  assert.match(locked.stderr, /is encrypted: pass --key-file or set POLYPROF_STORE_KEY/);

  // A wrong key, a changed byte: refused, never garbage.
  const wrongFile = path.join(dir, 'wrong.key');
  fs.writeFileSync(wrongFile, crypto.randomBytes(32).toString('hex'));
  const wrong = new polyprof.Store(store.directory, { keyFile: wrongFile });
  assert.throws(() => wrong.read(entries[0]), /cannot decrypt .*: wrong key or the file was modified/);
  sealed[30] ^= 1;
  fs.writeFileSync(store.path(entries[0]), sealed);
  assert.throws(() => store.read(entries[0]), /wrong key or the file was modified/);
});

test('a bad key is refused at start, naming its source', () => {
  const saved = process.env.POLYPROF_STORE_KEY;
  process.env.POLYPROF_STORE_KEY = 'not-a-key';
  try {
    assert.throws(() => new polyprof.Store(tmpdir()),
      (e) => e instanceof polyprof.PolyprofError &&
        /store key from POLYPROF_STORE_KEY: expected 32 bytes as 64 hex digits or base64/.test(e.message) &&
        !e.message.includes('not-a-key'));
    assert.throws(() => new polyprof.TriggeredProfiler(), /store key from POLYPROF_STORE_KEY/);
  } finally {
    if (saved === undefined) delete process.env.POLYPROF_STORE_KEY;
    else process.env.POLYPROF_STORE_KEY = saved;
  }
  assert.throws(() => new polyprof.Store(tmpdir(), { keyFile: '/no/such/key' }), /store key from file '\/no\/such\/key'/);
});
