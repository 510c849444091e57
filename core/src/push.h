/* Pushing continuous windows to a Grafana Pyroscope server: a bounded queue
 * the window exporter fills in O(1), one uploader thread of the core's that
 * talks HTTP through libcurl (loaded at run time), retries with backoff, and
 * counters. A slow or dead server costs windows, never the application's
 * time. */
#ifndef PP_PUSH_H
#define PP_PUSH_H

#include <stddef.h>
#include <stdint.h>

#include "polyprof.h"

/* Checks for the option grammar (options.c): 0, or -1 with the reason in why. */
int pp_push_check_url(const char *url, char *why, size_t whylen);
int pp_push_check_app(const char *app, char *why, size_t whylen);
/* "key=value;key=value" with Pyroscope's label rules. */
int pp_push_check_tags(const char *tags, char *why, size_t whylen);

/* Loads libcurl, reads the credentials (environment or *_file keys) and
 * starts the uploader thread (o->signo blocked on it). app: the application
 * name when o->push_app is empty; characters Pyroscope does not take in an
 * application name become '_'. */
pp_push *pp_push_start(const pp_options *o, const char *app, char *err, size_t errlen);
/* Queues one gzip pprof (malloc'ed; ownership passes) covering
 * [start, end). O(1); never waits for the network: when the queue is full
 * the oldest window is dropped and counted. */
void pp_push_enqueue(pp_push *p, uint8_t *pprof, size_t len, int64_t start_unix_ns, int64_t end_unix_ns);
/* pp_push_open, pp_push_profile, pp_push_get_stats and pp_push_stop are
 * declared in polyprof.h, for the bridges. */
/* pp_push_stop (polyprof.h): an upload still running after push_flush is
 * aborted. */
/* The same without waiting: the thread sends what is queued for at most
 * push_flush in the background, then frees p. */
void pp_push_release(pp_push *p);

#endif
