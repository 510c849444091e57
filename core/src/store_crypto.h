/* Encryption at rest for the local store: AES-256-GCM through OpenSSL's EVP
 * API, keys from a file or the environment. Internal to the core (store.c,
 * env_config.c and the tests). */
#ifndef PP_STORE_CRYPTO_H
#define PP_STORE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#define PP_STORE_KEY_BYTES 32
#define PP_STORE_KEY_ENV "POLYPROF_STORE_KEY"

/* File layout, version 1:
 *   magic "PPSTENC" (7 bytes), version (1 byte, 1 = AES-256-GCM),
 *   nonce (12 bytes, random per file), ciphertext, tag (16 bytes).
 * The first 20 bytes (magic, version, nonce) are the GCM additional
 * authenticated data: a changed header fails like a changed ciphertext. */
#define PP_ENC_MAGIC "PPSTENC"
#define PP_ENC_MAGIC_LEN 7
#define PP_ENC_VERSION 1
#define PP_ENC_NONCE_LEN 12
#define PP_ENC_HEADER_LEN (PP_ENC_MAGIC_LEN + 1 + PP_ENC_NONCE_LEN)
#define PP_ENC_TAG_LEN 16

/* The key in its text form: 64 hex digits, or standard base64 of exactly 32
 * bytes (44 characters with its '=' pad, or 43 without); surrounding
 * whitespace is ignored. `source` names where it came from in the message
 * ("POLYPROF_STORE_KEY", "file '/etc/key'"). The key itself is never echoed. */
int pp_store_key_parse(const char *text, size_t len, const char *source, uint8_t key[PP_STORE_KEY_BYTES], char *err,
                       size_t errlen);

/* A key file holds the 32 raw bytes or the text form. */
int pp_store_key_read_file(const char *path, uint8_t key[PP_STORE_KEY_BYTES], char *err, size_t errlen);

/* The configured key: key_file when set (non-empty), else the environment
 * variable POLYPROF_STORE_KEY when set and non-empty (get: getenv, or a
 * stand-in for tests). 1: key written; 0: none configured; -1: err names the
 * source. The caller wipes key with pp_store_key_wipe. */
int pp_store_key_load(const char *key_file, const char *(*get)(const char *name), uint8_t key[PP_STORE_KEY_BYTES],
                      char *err, size_t errlen);

/* OPENSSL_cleanse: a wipe the compiler cannot drop as a dead store. */
void pp_store_key_wipe(void *p, size_t len);

/* plain -> header + ciphertext + tag in a malloc'd buffer, with a fresh
 * random nonce (RAND_bytes; no file is written without one). */
int pp_store_encrypt(const uint8_t key[PP_STORE_KEY_BYTES], const uint8_t *plain, size_t len, uint8_t **out,
                     size_t *outlen, char *err, size_t errlen);

/* 1 when data starts like an encrypted store file (magic), else 0. */
int pp_store_is_encrypted(const uint8_t *data, size_t len);

/* The inverse; name is the file named in messages. A wrong key, a changed
 * byte anywhere, or a truncated file fails authentication:
 * "cannot decrypt NAME: wrong key or the file was modified". */
int pp_store_decrypt(const uint8_t key[PP_STORE_KEY_BYTES], const uint8_t *data, size_t len, const char *name,
                     uint8_t **out, size_t *outlen, char *err, size_t errlen);

#endif
