/* Wall mode's bookkeeping for threads counted without a signal: a repeat
 * lands on the thread's latest stack, and the ticks repeats counted come off
 * the thread's next signalled sample (whose handler counted them too), but
 * only those counted before that sample was taken. Each tick is counted
 * once, so a thread's wall time adds up. */
#include <stdint.h>

#include "check.h"
#include "wall_stacks.h"

static const uint32_t waiting[] = {7, 8, 9}, working[] = {7, 10};
static const uint32_t labels[] = {1, 2};

int main(void)
{
    pp_wall_stacks *w = pp_wall_stacks_new();
    CHECK(w != NULL);
    const uint32_t *frames, *lab;
    uint32_t n_frames, n_labels;

    /* Thread 100: sampled waiting (weight 3: its first sample), then found
     * there twice without a signal (3 + 3 ticks), then sampled working: the
     * handler counted 7 ticks since its previous sample, 6 of them already
     * counted. */
    CHECK_EQ_INT((int)pp_wall_stacks_sample(w, 100, waiting, 3, labels, 2, 3, 1000), 3);
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 100, 3, 2000, &frames, &n_frames, &lab, &n_labels), 0);
    CHECK_EQ_INT((int)n_frames, 3);
    CHECK_EQ_INT((int)frames[2], 9);
    CHECK_EQ_INT((int)n_labels, 2);
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 100, 3, 3000, &frames, &n_frames, &lab, &n_labels), 0);
    CHECK_EQ_INT((int)pp_wall_stacks_sample(w, 100, working, 2, labels, 2, 7, 3500), 1);
    /* Now its latest stack is the working one. */
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 100, 2, 4000, &frames, &n_frames, &lab, &n_labels), 0);
    CHECK_EQ_INT((int)n_frames, 2);

    /* A repeat timed after a sample's handler ran (it ran long) is not in
     * that sample's weight: it comes off the next one. */
    CHECK_EQ_INT((int)pp_wall_stacks_sample(w, 100, waiting, 3, labels, 2, 1, 3900), 1);
    CHECK_EQ_INT((int)pp_wall_stacks_sample(w, 100, waiting, 3, labels, 2, 5, 5000), 3);

    /* Thread 200: counted before any sample of it was drained (its signal
     * still pending): no stack yet, so its first sample carries the ticks. */
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 200, 4, 1000, &frames, &n_frames, &lab, &n_labels), -1);
    CHECK_EQ_INT((int)pp_wall_stacks_sample(w, 200, waiting, 3, labels, 2, 2, 1500), 6);

    /* Many repeats between two samples (a thread parked for long): all of
     * them come off, however many. */
    CHECK_EQ_INT((int)pp_wall_stacks_sample(w, 300, waiting, 3, labels, 2, 1, 0), 1);
    for (int i = 1; i <= 100; i++)
        CHECK_EQ_INT(pp_wall_stacks_repeat(w, 300, 2, (uint64_t)i * 10, &frames, &n_frames, &lab, &n_labels), 0);
    CHECK_EQ_INT((int)pp_wall_stacks_sample(w, 300, working, 2, labels, 2, 203, 2000), 3);

    /* Threads not heard of between two expiries are forgotten; the others
     * keep their stacks. */
    pp_wall_stacks_expire(w);
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 100, 1, 6000, &frames, &n_frames, &lab, &n_labels), 0);
    pp_wall_stacks_expire(w);
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 300, 1, 6000, &frames, &n_frames, &lab, &n_labels), -1);
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 100, 1, 6000, &frames, &n_frames, &lab, &n_labels), 0);

    /* A new session starts afresh. */
    pp_wall_stacks_clear(w);
    CHECK_EQ_INT(pp_wall_stacks_repeat(w, 100, 1, 7000, &frames, &n_frames, &lab, &n_labels), -1);
    pp_wall_stacks_free(w);
    TEST_MAIN_END();
}
