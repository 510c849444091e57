#include "wall_stacks.h"

#include <stdlib.h>
#include <string.h>

#include "idmap.h"

#define PP_WALL_RECENT_REPEATS 8

typedef struct wall_thread {
    int32_t tid;
    int has_stack;
    int touched; /* heard of since the last expiry */
    uint32_t n_frames, n_labels, cap_frames, cap_labels;
    uint32_t *frames, *labels;
    /* Ticks counted by repeats since the latest signalled sample: the
     * latest few with their times, and the sum of older ones. A repeat timed
     * after a sample's handler read the tick count (the handler ran long, or
     * was preempted) is not in that sample's weight but in the next one's. */
    struct {
        uint64_t time_ns, weight;
    } recent[PP_WALL_RECENT_REPEATS];
    uint32_t n_recent;
    uint64_t counted_older;
    uint64_t owed;    /* ticks counted before any stack was known: the first sample carries them */
} wall_thread;

struct pp_wall_stacks {
    wall_thread *threads;
    size_t n, cap;
    pp_idmap index; /* tid -> position in threads */
};

pp_wall_stacks *pp_wall_stacks_new(void)
{
    pp_wall_stacks *w = calloc(1, sizeof *w);
    if (w)
        pp_idmap_init(&w->index);
    return w;
}

static void release_threads(pp_wall_stacks *w, size_t from)
{
    for (size_t i = from; i < w->n; i++) {
        free(w->threads[i].frames);
        free(w->threads[i].labels);
    }
}

void pp_wall_stacks_clear(pp_wall_stacks *w)
{
    release_threads(w, 0);
    w->n = 0;
    pp_idmap_free(&w->index);
    pp_idmap_init(&w->index);
}

void pp_wall_stacks_free(pp_wall_stacks *w)
{
    if (!w)
        return;
    release_threads(w, 0);
    free(w->threads);
    pp_idmap_free(&w->index);
    free(w);
}

static wall_thread *find(pp_wall_stacks *w, int32_t tid, int create)
{
    uint32_t at = pp_idmap_get(&w->index, (uint64_t)(uint32_t)tid, 0, 0);
    if (at != UINT32_MAX)
        return &w->threads[at];
    if (!create)
        return NULL;
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        wall_thread *p = realloc(w->threads, cap * sizeof *p);
        if (!p)
            return NULL;
        w->threads = p;
        w->cap = cap;
    }
    if (pp_idmap_put(&w->index, (uint64_t)(uint32_t)tid, 0, 0, (uint32_t)w->n) != 0)
        return NULL;
    wall_thread *t = &w->threads[w->n++];
    memset(t, 0, sizeof *t);
    t->tid = tid;
    return t;
}

static int copy_ids(uint32_t **dst, uint32_t *cap, const uint32_t *src, uint32_t n)
{
    if (n > *cap) {
        uint32_t *p = realloc(*dst, (size_t)n * sizeof *p);
        if (!p)
            return -1;
        *dst = p;
        *cap = n;
    }
    if (n)
        memcpy(*dst, src, (size_t)n * sizeof *src);
    return 0;
}

uint64_t pp_wall_stacks_sample(pp_wall_stacks *w, int32_t tid, const uint32_t *frames, uint32_t n_frames,
                               const uint32_t *labels, uint32_t n_labels, uint64_t weight, uint64_t time_ns)
{
    wall_thread *t = find(w, tid, 1);
    if (!t)
        return weight; /* out of memory: counted as signalled, repeats of it are dropped */
    t->touched = 1;
    /* Repeats counted from the ticks this sample also stands for come off
     * it; any excess (its signal was handled late, after repeats of the
     * previous stack) comes off the next one. */
    uint64_t counted = t->counted_older;
    uint32_t kept = 0;
    for (uint32_t i = 0; i < t->n_recent; i++) {
        if (t->recent[i].time_ns <= time_ns)
            counted += t->recent[i].weight;
        else
            t->recent[kept++] = t->recent[i];
    }
    t->n_recent = kept;
    uint64_t taken = counted < weight ? counted : weight;
    t->counted_older = counted - taken;
    weight = weight - taken + t->owed;
    t->owed = 0;
    if (copy_ids(&t->frames, &t->cap_frames, frames, n_frames) != 0 ||
        copy_ids(&t->labels, &t->cap_labels, labels, n_labels) != 0) {
        t->has_stack = 0;
        return weight;
    }
    t->n_frames = n_frames;
    t->n_labels = n_labels;
    t->has_stack = 1;
    return weight;
}

int pp_wall_stacks_repeat(pp_wall_stacks *w, int32_t tid, uint64_t weight, uint64_t time_ns, const uint32_t **frames,
                          uint32_t *n_frames, const uint32_t **labels, uint32_t *n_labels)
{
    wall_thread *t = find(w, tid, 1);
    if (!t)
        return -1;
    t->touched = 1;
    if (!t->has_stack) {
        t->owed += weight;
        return -1;
    }
    if (t->n_recent == PP_WALL_RECENT_REPEATS) {
        t->counted_older += t->recent[0].weight;
        memmove(&t->recent[0], &t->recent[1], sizeof t->recent[0] * (PP_WALL_RECENT_REPEATS - 1));
        t->n_recent--;
    }
    t->recent[t->n_recent].time_ns = time_ns;
    t->recent[t->n_recent].weight = weight;
    t->n_recent++;
    *frames = t->frames;
    *n_frames = t->n_frames;
    *labels = t->labels;
    *n_labels = t->n_labels;
    return 0;
}

void pp_wall_stacks_expire(pp_wall_stacks *w)
{
    size_t kept = 0;
    for (size_t i = 0; i < w->n; i++) {
        wall_thread *t = &w->threads[i];
        if (!t->touched) {
            free(t->frames);
            free(t->labels);
            continue;
        }
        t->touched = 0;
        w->threads[kept++] = *t;
    }
    w->n = kept;
    pp_idmap_free(&w->index);
    pp_idmap_init(&w->index);
    for (size_t i = 0; i < w->n; i++)
        if (pp_idmap_put(&w->index, (uint64_t)(uint32_t)w->threads[i].tid, 0, 0, (uint32_t)i) != 0) {
            /* out of memory: forget the rest rather than keep unreachable entries */
            release_threads(w, i);
            w->n = i;
            break;
        }
}
