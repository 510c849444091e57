'use strict';
// JavaScript that spends its time in native code: OpenSSL's SHA-256 through
// node:crypto, zlib's deflate through node:zlib, and a thread blocked in the
// kernel (Atomics.wait) for wall-clock profiles.
const crypto = require('crypto');
const zlib = require('zlib');

const block = Buffer.alloc(1 << 20, 7);
function hashAll(rounds) {
  let digest;
  for (let i = 0; i < rounds; i++) digest = crypto.createHash('sha256').update(block).digest();
  return digest;
}

// Text-like input, so deflate has matches to search for.
const text = Buffer.from(Array.from({ length: 40000 }, (_, i) => `line ${i % 977} of ${i % 13}\n`).join(''));
function compressAll(rounds) {
  let size = 0;
  for (let i = 0; i < rounds; i++) size += zlib.deflateSync(text, { level: 9 }).length;
  return size;
}

const cell = new Int32Array(new SharedArrayBuffer(4));
function blockFor(ms) {
  Atomics.wait(cell, 0, 0, ms); // sleeps in the kernel: wall time, no CPU
}

module.exports = { hashAll, compressAll, blockFor };
