/* Encryption at rest for the local store (see store_crypto.h for the file
 * layout). AES-256-GCM through OpenSSL's EVP API, found at run time
 * (libcrypto.h): the OpenSSL node itself carries and exports in the Node
 * addon, the system's libcrypto elsewhere. Nonces are
 * 96 random bits per file from RAND_bytes: with one file per window the
 * number of files under one key stays far below the 2^32 that random GCM
 * nonces allow. */
#include "store_crypto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "libcrypto.h"

void pp_store_key_wipe(void *p, size_t len)
{
    /* explicit_bzero: a wipe the compiler may not drop as a dead store. */
    if (p && len)
        explicit_bzero(p, len);
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int base64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Standard base64 of exactly 32 bytes: 43 characters and one '=' pad
 * (which may be left out). 43 characters carry 258 bits: the last one's two
 * low bits are padding and must be zero. */
static int decode_base64_key(const char *t, size_t n, uint8_t key[PP_STORE_KEY_BYTES])
{
    if (n == 44 && t[43] == '=')
        n = 43;
    if (n != 43)
        return -1;
    uint32_t acc = 0;
    int bits = 0;
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        int v = base64_value((unsigned char)t[i]);
        if (v < 0) {
            pp_store_key_wipe(key, PP_STORE_KEY_BYTES);
            return -1;
        }
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            key[out++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    int ok = out == PP_STORE_KEY_BYTES && acc == 0;
    acc = 0;
    if (!ok)
        pp_store_key_wipe(key, PP_STORE_KEY_BYTES);
    return ok ? 0 : -1;
}

int pp_store_key_parse(const char *text, size_t len, const char *source, uint8_t key[PP_STORE_KEY_BYTES], char *err,
                       size_t errlen)
{
    while (len && isspace((unsigned char)*text)) {
        text++;
        len--;
    }
    while (len && isspace((unsigned char)text[len - 1]))
        len--;
    if (len == 2 * PP_STORE_KEY_BYTES) {
        int ok = 1;
        for (size_t i = 0; i < PP_STORE_KEY_BYTES && ok; i++) {
            int hi = hex_value((unsigned char)text[2 * i]), lo = hex_value((unsigned char)text[2 * i + 1]);
            ok = hi >= 0 && lo >= 0;
            key[i] = (uint8_t)(ok ? hi << 4 | lo : 0);
        }
        if (ok)
            return 0;
        pp_store_key_wipe(key, PP_STORE_KEY_BYTES);
        snprintf(err, errlen,
                 "store key from %s: expected 32 bytes as 64 hex digits or base64, got 64 characters that are not "
                 "all hex digits",
                 source);
        return -1;
    }
    if (decode_base64_key(text, len, key) == 0)
        return 0;
    snprintf(err, errlen, "store key from %s: expected 32 bytes as 64 hex digits or base64 (44 characters), got %zu %s",
             source, len, len == 43 || len == 44 ? "characters that are not base64" : "characters");
    return -1;
}

int pp_store_key_read_file(const char *path, uint8_t key[PP_STORE_KEY_BYTES], char *err, size_t errlen)
{
    char source[4200];
    snprintf(source, sizeof source, "file '%s'", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "store key from %s: %s", source, strerror(errno));
        return -1;
    }
    /* Raw bytes (32) or the text form with a newline: a larger file is not a key. */
    char buf[256];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "store key from %s: %s", source, strerror(errno));
            close(fd);
            pp_store_key_wipe(buf, sizeof buf);
            return -1;
        }
        if (r == 0 || (n += (size_t)r) == sizeof buf)
            break;
    }
    close(fd);
    int rc;
    if (n == PP_STORE_KEY_BYTES) {
        memcpy(key, buf, PP_STORE_KEY_BYTES);
        rc = 0;
    } else if (n == sizeof buf) {
        snprintf(err, errlen,
                 "store key from %s: expected 32 raw bytes, or 32 bytes as 64 hex digits or base64, got a larger file",
                 source);
        rc = -1;
    } else {
        rc = pp_store_key_parse(buf, n, source, key, err, errlen);
    }
    pp_store_key_wipe(buf, sizeof buf);
    return rc;
}

int pp_store_key_load(const char *key_file, const char *(*get)(const char *name), uint8_t key[PP_STORE_KEY_BYTES],
                      char *err, size_t errlen)
{
    int rc;
    if (key_file && *key_file) {
        rc = pp_store_key_read_file(key_file, key, err, errlen) == 0 ? 1 : -1;
    } else {
        const char *v = get ? get(PP_STORE_KEY_ENV) : getenv(PP_STORE_KEY_ENV);
        if (!v || !*v)
            return 0;
        rc = pp_store_key_parse(v, strlen(v), PP_STORE_KEY_ENV, key, err, errlen) == 0 ? 1 : -1;
    }
    /* A key means encryption: say now, not at the first write, when there is
     * no libcrypto to encrypt with. */
    if (rc == 1 && !pp_libcrypto_get(err, errlen)) {
        pp_store_key_wipe(key, PP_STORE_KEY_BYTES);
        return -1;
    }
    return rc;
}

static void header(uint8_t *h, const uint8_t nonce[PP_ENC_NONCE_LEN])
{
    memcpy(h, PP_ENC_MAGIC, PP_ENC_MAGIC_LEN);
    h[PP_ENC_MAGIC_LEN] = PP_ENC_VERSION;
    memcpy(h + PP_ENC_MAGIC_LEN + 1, nonce, PP_ENC_NONCE_LEN);
}

int pp_store_encrypt(const uint8_t key[PP_STORE_KEY_BYTES], const uint8_t *plain, size_t len, uint8_t **out,
                     size_t *outlen, char *err, size_t errlen)
{
    if (len > (size_t)1 << 30) {
        snprintf(err, errlen, "store: a profile of %zu bytes is too large to encrypt", len);
        return -1;
    }
    size_t total = PP_ENC_HEADER_LEN + len + PP_ENC_TAG_LEN;
    uint8_t *buf = malloc(total);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const pp_libcrypto *c = pp_libcrypto_get(err, errlen);
    if (!c) {
        free(buf);
        return -1;
    }
    uint8_t nonce[PP_ENC_NONCE_LEN];
    if (c->rand_bytes(nonce, sizeof nonce) != 1) {
        snprintf(err, errlen, "store: no random nonce (RAND_bytes failed); the profile is not written");
        free(buf);
        return -1;
    }
    header(buf, nonce);
    pp_evp_cipher_ctx *ctx = c->ctx_new();
    int n = 0, fin = 0;
    int ok = ctx && c->encrypt_init(ctx, c->aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             c->ctx_ctrl(ctx, PP_EVP_CTRL_GCM_SET_IVLEN, PP_ENC_NONCE_LEN, NULL) == 1 &&
             c->encrypt_init(ctx, NULL, NULL, key, nonce) == 1 &&
             c->encrypt_update(ctx, NULL, &n, buf, PP_ENC_HEADER_LEN) == 1 &&
             c->encrypt_update(ctx, buf + PP_ENC_HEADER_LEN, &n, plain, (int)len) == 1 &&
             c->encrypt_final(ctx, buf + PP_ENC_HEADER_LEN + n, &fin) == 1 && (size_t)n + (size_t)fin == len &&
             c->ctx_ctrl(ctx, PP_EVP_CTRL_GCM_GET_TAG, PP_ENC_TAG_LEN, buf + PP_ENC_HEADER_LEN + len) == 1;
    c->ctx_free(ctx); /* also wipes the expanded key */
    if (!ok) {
        snprintf(err, errlen, "store: AES-256-GCM encryption failed");
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = total;
    return 0;
}

int pp_store_is_encrypted(const uint8_t *data, size_t len)
{
    return len >= PP_ENC_MAGIC_LEN && memcmp(data, PP_ENC_MAGIC, PP_ENC_MAGIC_LEN) == 0;
}

int pp_store_decrypt(const uint8_t key[PP_STORE_KEY_BYTES], const uint8_t *data, size_t len, const char *name,
                     uint8_t **out, size_t *outlen, char *err, size_t errlen)
{
    if (len < PP_ENC_HEADER_LEN + PP_ENC_TAG_LEN || !pp_store_is_encrypted(data, len)) {
        snprintf(err, errlen, "cannot decrypt %s: wrong key or the file was modified (%s)", name,
                 len < PP_ENC_HEADER_LEN + PP_ENC_TAG_LEN ? "truncated" : "no polyprof encryption header");
        return -1;
    }
    if (data[PP_ENC_MAGIC_LEN] != PP_ENC_VERSION) {
        snprintf(err, errlen, "cannot decrypt %s: encryption format version %d (this polyprof reads version %d)",
                 name, data[PP_ENC_MAGIC_LEN], PP_ENC_VERSION);
        return -1;
    }
    size_t clen = len - PP_ENC_HEADER_LEN - PP_ENC_TAG_LEN;
    if (clen > (size_t)1 << 30) {
        snprintf(err, errlen, "cannot decrypt %s: too large", name);
        return -1;
    }
    const pp_libcrypto *c = pp_libcrypto_get(err, errlen);
    if (!c)
        return -1;
    uint8_t *plain = malloc(clen ? clen : 1);
    if (!plain) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pp_evp_cipher_ctx *ctx = c->ctx_new();
    int n = 0, fin = 0;
    uint8_t tag[PP_ENC_TAG_LEN];
    memcpy(tag, data + len - PP_ENC_TAG_LEN, PP_ENC_TAG_LEN);
    int ok = ctx && c->decrypt_init(ctx, c->aes_256_gcm(), NULL, NULL, NULL) == 1 &&
             c->ctx_ctrl(ctx, PP_EVP_CTRL_GCM_SET_IVLEN, PP_ENC_NONCE_LEN, NULL) == 1 &&
             c->decrypt_init(ctx, NULL, NULL, key, data + PP_ENC_MAGIC_LEN + 1) == 1 &&
             c->decrypt_update(ctx, NULL, &n, data, PP_ENC_HEADER_LEN) == 1 &&
             c->decrypt_update(ctx, plain, &n, data + PP_ENC_HEADER_LEN, (int)clen) == 1 &&
             c->ctx_ctrl(ctx, PP_EVP_CTRL_GCM_SET_TAG, PP_ENC_TAG_LEN, tag) == 1 &&
             c->decrypt_final(ctx, plain + n, &fin) == 1; /* checks the tag: nothing is trusted before */
    c->ctx_free(ctx);
    if (!ok) {
        pp_store_key_wipe(plain, clen);
        free(plain);
        snprintf(err, errlen, "cannot decrypt %s: wrong key or the file was modified", name);
        return -1;
    }
    *out = plain;
    *outlen = (size_t)n + (size_t)fin;
    return 0;
}
