/* libmicrohttpd, the local endpoint's HTTP server, found at run time: the
 * functions endpoint.c calls. Nothing is linked against it, so a process
 * that never serves the endpoint never maps it nor what it pulls in (a
 * distribution's build brings GnuTLS and ten more libraries, whose loading,
 * relocation and unwind tables were a tenth of what starting the profiler in
 * an empty Python program cost). A build that links libmicrohttpd statically
 * defines PP_MHD_LINKED and gets the linked functions.
 * Internal to the core (endpoint.c). */
#ifndef PP_LIBMICROHTTPD_H
#define PP_LIBMICROHTTPD_H

#include <microhttpd.h>
#include <stddef.h>

typedef struct pp_libmicrohttpd {
    __typeof__(&MHD_start_daemon) start_daemon;
    __typeof__(&MHD_stop_daemon) stop_daemon;
    __typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
    __typeof__(&MHD_add_response_header) add_response_header;
    __typeof__(&MHD_queue_response) queue_response;
    __typeof__(&MHD_destroy_response) destroy_response;
    __typeof__(&MHD_lookup_connection_value) lookup_connection_value;
    __typeof__(&MHD_get_connection_info) get_connection_info;
    __typeof__(&MHD_suspend_connection) suspend_connection;
    __typeof__(&MHD_resume_connection) resume_connection;
} pp_libmicrohttpd;

/* The functions, found once per process: in a libmicrohttpd the process
 * already has in its global scope, else in libmicrohttpd.so.12. NULL when
 * neither has them, with err saying what the endpoint needs and what to
 * install. Thread-safe; the library is never unloaded. */
const pp_libmicrohttpd *pp_libmicrohttpd_get(char *err, size_t errlen);

#endif
