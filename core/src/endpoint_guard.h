/* Keeps the local endpoint answering while slow or stuck clients hold
 * connections. libmicrohttpd's timeout is an idle timer that every byte
 * restarts, so a client that trickles one header line every few seconds
 * holds its connection for ever, and a few dozen such clients hold every
 * slot. The guard gives each request's headers a deadline from the moment
 * the connection starts waiting for them (connect, or the previous answer),
 * and keeps a reserve: at most `max_pending` connections may be waiting for
 * headers at once; one more evicts the one that has waited longest, so a
 * client that sends its request at once always gets a slot.
 * Eviction is shutdown(2) on the socket: libmicrohttpd sees the end of the
 * stream and closes the connection itself, on its own thread.
 * Not async-signal-safe (locks, allocates). */
#ifndef PP_ENDPOINT_GUARD_H
#define PP_ENDPOINT_GUARD_H

#include <stdint.h>

typedef struct pp_conn_guard pp_conn_guard;
typedef struct pp_guarded_conn pp_guarded_conn;

/* Starts the watchdog thread that enforces the deadline. NULL when out of
 * memory or no thread could be made. */
pp_conn_guard *pp_conn_guard_new(unsigned header_deadline_s, unsigned max_pending);
/* Stops the watchdog. Call after the server stopped (every connection is
 * closed by then). */
void pp_conn_guard_free(pp_conn_guard *g);

/* A connection was accepted on socket fd; evicts the longest-waiting one
 * when more than max_pending wait for headers. NULL when out of memory (the
 * connection is then not guarded). */
pp_guarded_conn *pp_conn_guard_opened(pp_conn_guard *g, int fd);
/* Its request's headers are in: no deadline until the answer is sent. */
void pp_conn_guard_request_started(pp_conn_guard *g, pp_guarded_conn *c);
/* Its answer is sent: the next request's headers have a new deadline. */
void pp_conn_guard_request_done(pp_conn_guard *g, pp_guarded_conn *c);
/* The server closed it (before its socket is closed): frees c. */
void pp_conn_guard_closed(pp_conn_guard *g, pp_guarded_conn *c);

/* Connections closed by the deadline and by eviction so far (for status). */
void pp_conn_guard_counts(pp_conn_guard *g, uint64_t *deadline_closed, uint64_t *evicted);

#endif
