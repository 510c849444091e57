/* Finds OpenSSL's libcrypto at run time (see libcrypto.h). */
#include "libcrypto.h"

#include "dl_bind.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static pp_libcrypto crypto_fns;
static int crypto_state; /* 0 not tried, 1 loaded, -1 failed (retried at the next call) */
static pthread_mutex_t crypto_lock = PTHREAD_MUTEX_INITIALIZER;

static int bind_all(void *handle)
{
    const pp_dl_symbol fns[] = {
        {(void **)&crypto_fns.aes_256_gcm, "EVP_aes_256_gcm"},
        {(void **)&crypto_fns.ctx_new, "EVP_CIPHER_CTX_new"},
        {(void **)&crypto_fns.ctx_free, "EVP_CIPHER_CTX_free"},
        {(void **)&crypto_fns.ctx_ctrl, "EVP_CIPHER_CTX_ctrl"},
        {(void **)&crypto_fns.encrypt_init, "EVP_EncryptInit_ex"},
        {(void **)&crypto_fns.encrypt_update, "EVP_EncryptUpdate"},
        {(void **)&crypto_fns.encrypt_final, "EVP_EncryptFinal_ex"},
        {(void **)&crypto_fns.decrypt_init, "EVP_DecryptInit_ex"},
        {(void **)&crypto_fns.decrypt_update, "EVP_DecryptUpdate"},
        {(void **)&crypto_fns.decrypt_final, "EVP_DecryptFinal_ex"},
        {(void **)&crypto_fns.rand_bytes, "RAND_bytes"},
    };
    return pp_dl_bind(handle, fns, sizeof fns / sizeof fns[0]);
}

const pp_libcrypto *pp_libcrypto_get(char *err, size_t errlen)
{
    pthread_mutex_lock(&crypto_lock);
    if (crypto_state == 1) {
        pthread_mutex_unlock(&crypto_lock);
        return &crypto_fns;
    }
    if (bind_all(RTLD_DEFAULT) == 0) {
        crypto_state = 1;
        pthread_mutex_unlock(&crypto_lock);
        return &crypto_fns;
    }
    static const char *const names[] = {"libcrypto.so.3", "libcrypto.so.1.1"};
    const char *why = NULL;
    for (size_t i = 0; i < sizeof names / sizeof names[0] && crypto_state != 1; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            if (!why)
                why = dlerror();
            continue;
        }
        if (bind_all(h) == 0)
            crypto_state = 1;
        else
            why = "it lacks the EVP AES-256-GCM functions";
    }
    if (crypto_state != 1) {
        crypto_state = -1;
        snprintf(err, errlen,
                 "store encryption needs OpenSSL's libcrypto (libcrypto.so.3 or .so.1.1; Debian: apt-get install "
                 "libssl3): %s",
                 why ? why : "not found");
    }
    pthread_mutex_unlock(&crypto_lock);
    return crypto_state == 1 ? &crypto_fns : NULL;
}
