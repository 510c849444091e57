/* OpenSSL's libcrypto, found at run time: the AES-256-GCM and random-number
 * functions store encryption uses. Nothing is linked against libcrypto, so a
 * process that never encrypts never maps it, and a binary package runs where
 * the library is absent (only encryption then fails, with a message saying so).
 * Internal to the core (store_crypto.c). */
#ifndef PP_LIBCRYPTO_H
#define PP_LIBCRYPTO_H

#include <stddef.h>

/* OpenSSL's opaque types and the GCM control codes: part of its stable ABI,
 * the same in OpenSSL 1.1 and 3 (openssl/evp.h), declared here so that the
 * core builds without OpenSSL's headers. */
typedef struct pp_evp_cipher pp_evp_cipher;
typedef struct pp_evp_cipher_ctx pp_evp_cipher_ctx;
enum { PP_EVP_CTRL_GCM_SET_IVLEN = 0x9, PP_EVP_CTRL_GCM_GET_TAG = 0x10, PP_EVP_CTRL_GCM_SET_TAG = 0x11 };

typedef struct pp_libcrypto {
    const pp_evp_cipher *(*aes_256_gcm)(void);
    pp_evp_cipher_ctx *(*ctx_new)(void);
    void (*ctx_free)(pp_evp_cipher_ctx *);
    int (*ctx_ctrl)(pp_evp_cipher_ctx *, int type, int arg, void *ptr);
    int (*encrypt_init)(pp_evp_cipher_ctx *, const pp_evp_cipher *, void *engine, const unsigned char *key,
                        const unsigned char *iv);
    int (*encrypt_update)(pp_evp_cipher_ctx *, unsigned char *out, int *outl, const unsigned char *in, int inl);
    int (*encrypt_final)(pp_evp_cipher_ctx *, unsigned char *out, int *outl);
    int (*decrypt_init)(pp_evp_cipher_ctx *, const pp_evp_cipher *, void *engine, const unsigned char *key,
                        const unsigned char *iv);
    int (*decrypt_update)(pp_evp_cipher_ctx *, unsigned char *out, int *outl, const unsigned char *in, int inl);
    int (*decrypt_final)(pp_evp_cipher_ctx *, unsigned char *out, int *outl);
    int (*rand_bytes)(unsigned char *buf, int num);
} pp_libcrypto;

/* The functions, found once per process: in a libcrypto the process already
 * has in its global scope (Node carries and exports its own OpenSSL; using it
 * avoids a second copy), else in libcrypto.so.3, else libcrypto.so.1.1.
 * NULL when none has them, with err naming what needs it ("store encryption")
 * and what to install. Thread-safe; the library is never unloaded. */
const pp_libcrypto *pp_libcrypto_get(char *err, size_t errlen);

#endif
