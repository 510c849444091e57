/* The stack table: aggregation by (frames, labels), and the hard memory cap
 * with its overflow record. */
#include <stdlib.h>

#include "check.h"
#include "stacks.h"

static void test_aggregates_identical_keys(void)
{
    pp_stack_table *t = pp_stack_table_new(1 << 20);
    uint32_t a[] = {1, 2, 3}, b[] = {1, 2, 4}, l1[] = {7}, l2[] = {8};
    CHECK_EQ_INT(pp_stack_table_add(t, a, 3, l1, 1, 1, 10), 0);
    CHECK_EQ_INT(pp_stack_table_add(t, a, 3, l1, 1, 2, 20), 0);
    CHECK_EQ_INT(pp_stack_table_add(t, b, 3, l1, 1, 1, 10), 0);
    CHECK_EQ_INT(pp_stack_table_add(t, a, 3, l2, 1, 1, 10), 0); /* same stack, other thread */
    CHECK_EQ_INT(pp_stack_table_size(t), 3);
    pp_stack_entry e;
    pp_stack_table_get(t, 0, &e);
    CHECK_EQ_INT(e.count, 3);
    CHECK_EQ_INT(e.value, 30);
    CHECK_EQ_INT(e.n_frames, 3);
    CHECK_EQ_INT(e.frames[2], 3);
    CHECK_EQ_INT(e.n_labels, 1);
    CHECK_EQ_INT(e.labels[0], 7);
    pp_stack_table_get(t, 2, &e);
    CHECK_EQ_INT(e.labels[0], 8);
    uint64_t oc, ov;
    pp_stack_table_overflow(t, &oc, &ov);
    CHECK_EQ_INT(oc, 0);
    pp_stack_table_free(t);
}

static void test_cap_is_enforced_and_overflow_counted(void)
{
    const size_t cap = 64 * 1024;
    pp_stack_table *t = pp_stack_table_new(cap);
    uint32_t frames[32];
    uint64_t added = 0, overflowed = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        for (int f = 0; f < 32; f++)
            frames[f] = i * 32 + (uint32_t)f; /* every stack distinct */
        int rc = pp_stack_table_add(t, frames, 32, NULL, 0, 1, 5);
        if (rc == 0)
            added++;
        else
            overflowed++;
        CHECK(pp_stack_table_bytes(t) <= cap);
    }
    CHECK(added > 100);       /* it used the memory it had */
    CHECK(overflowed > 10000); /* and then stopped growing */
    uint64_t oc, ov;
    pp_stack_table_overflow(t, &oc, &ov);
    CHECK_EQ_INT(oc, overflowed);
    CHECK_EQ_INT(ov, overflowed * 5);
    CHECK_EQ_INT(pp_stack_table_size(t), added);
    /* An existing key still aggregates after the cap was reached. */
    pp_stack_entry before, after;
    pp_stack_table_get(t, 0, &before);
    uint64_t count_before = before.count;
    for (int f = 0; f < 32; f++)
        frames[f] = (uint32_t)f;
    CHECK_EQ_INT(pp_stack_table_add(t, frames, 32, NULL, 0, 1, 5), 0);
    pp_stack_table_get(t, 0, &after);
    CHECK_EQ_INT(after.count, count_before + 1);
    pp_stack_table_free(t);
}

int main(void)
{
    test_aggregates_identical_keys();
    test_cap_is_enforced_and_overflow_counted();
    TEST_MAIN_END();
}
