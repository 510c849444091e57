/* Finds libmicrohttpd at run time (see libmicrohttpd.h). */
#include "libmicrohttpd.h"

#include "dl_bind.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

#ifdef PP_MHD_LINKED
const pp_libmicrohttpd *pp_libmicrohttpd_get(char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    static const pp_libmicrohttpd linked = {
        MHD_start_daemon,      MHD_stop_daemon,         MHD_create_response_from_buffer, MHD_add_response_header,
        MHD_queue_response,    MHD_destroy_response,    MHD_lookup_connection_value,     MHD_get_connection_info,
        MHD_suspend_connection, MHD_resume_connection,
    };
    return &linked;
}
#else
static pp_libmicrohttpd mhd_fns;
static int mhd_state; /* 0 not tried, 1 loaded, -1 failed (retried at the next call) */
static pthread_mutex_t mhd_lock = PTHREAD_MUTEX_INITIALIZER;

static int bind_all(void *handle)
{
    const pp_dl_symbol fns[] = {
        {(void **)&mhd_fns.start_daemon, "MHD_start_daemon"},
        {(void **)&mhd_fns.stop_daemon, "MHD_stop_daemon"},
        {(void **)&mhd_fns.create_response_from_buffer, "MHD_create_response_from_buffer"},
        {(void **)&mhd_fns.add_response_header, "MHD_add_response_header"},
        {(void **)&mhd_fns.queue_response, "MHD_queue_response"},
        {(void **)&mhd_fns.destroy_response, "MHD_destroy_response"},
        {(void **)&mhd_fns.lookup_connection_value, "MHD_lookup_connection_value"},
        {(void **)&mhd_fns.get_connection_info, "MHD_get_connection_info"},
        {(void **)&mhd_fns.suspend_connection, "MHD_suspend_connection"},
        {(void **)&mhd_fns.resume_connection, "MHD_resume_connection"},
    };
    return pp_dl_bind(handle, fns, sizeof fns / sizeof fns[0]);
}

const pp_libmicrohttpd *pp_libmicrohttpd_get(char *err, size_t errlen)
{
    pthread_mutex_lock(&mhd_lock);
    if (mhd_state != 1) {
        const char *why = NULL;
        if (bind_all(RTLD_DEFAULT) == 0) {
            mhd_state = 1;
        } else {
            void *h = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
            if (!h)
                why = dlerror();
            else if (bind_all(h) == 0)
                mhd_state = 1;
            else
                why = "it lacks functions the endpoint calls";
        }
        if (mhd_state != 1) {
            mhd_state = -1;
            snprintf(err, errlen,
                     "the endpoint's HTTP server needs libmicrohttpd (libmicrohttpd.so.12; Debian: apt-get install "
                     "libmicrohttpd12): %s",
                     why ? why : "not found");
        }
    }
    pthread_mutex_unlock(&mhd_lock);
    return mhd_state == 1 ? &mhd_fns : NULL;
}
#endif
