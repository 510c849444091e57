/* Wall mode: the latest stack of each thread, so that a thread found blocked
 * where it was last sampled is counted on that stack without being signalled
 * (threads.h, pp_threads_tick). Drain thread only; not signal-safe.
 *
 * Weights: a signalled sample weighs the ticks since its thread's previous
 * signalled sample (counted in the handler), which include the ticks already
 * counted here for the thread in between; pp_wall_stacks_sample takes those
 * back out, so each tick is counted once. */
#ifndef PP_WALL_STACKS_H
#define PP_WALL_STACKS_H

#include <stdint.h>

typedef struct pp_wall_stacks pp_wall_stacks;

pp_wall_stacks *pp_wall_stacks_new(void);
void pp_wall_stacks_free(pp_wall_stacks *w);
/* Forgets every thread (a new session: its weights start afresh). */
void pp_wall_stacks_clear(pp_wall_stacks *w);

/* A signalled sample of tid, its handler timed at time_ns: remembers its
 * stack and labels, and returns the weight it adds, `weight` less the ticks
 * already counted for the thread by pp_wall_stacks_repeat between its
 * previous signalled sample and time_ns (0 when all of them were). */
uint64_t pp_wall_stacks_sample(pp_wall_stacks *w, int32_t tid, const uint32_t *frames, uint32_t n_frames,
                               const uint32_t *labels, uint32_t n_labels, uint64_t weight, uint64_t time_ns);

/* tid was found where its latest stack has it for `weight` more ticks, the
 * tick count having moved on at time_ns (CLOCK_MONOTONIC, as a sample's). 0 and
 * the stack (valid until the next call) when it is known; -1 when no sample
 * of tid was seen yet this session: the weight is then added to its first
 * one. */
int pp_wall_stacks_repeat(pp_wall_stacks *w, int32_t tid, uint64_t weight, uint64_t time_ns, const uint32_t **frames,
                          uint32_t *n_frames, const uint32_t **labels, uint32_t *n_labels);

/* Forgets the threads not heard of since the previous call (they ended):
 * called every few seconds, longer than any thread goes unvisited. */
void pp_wall_stacks_expire(pp_wall_stacks *w);

#endif
