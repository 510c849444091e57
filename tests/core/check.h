/* Minimal assertion helpers for the C unit tests: each failed check prints
 * where and what, and the test exits non-zero at the end. */
#ifndef PP_TEST_CHECK_H
#define PP_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

static int pp_test_failures;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            pp_test_failures++;                                                       \
        }                                                                             \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                \
    do {                                                                                  \
        long long a_ = (long long)(a), b_ = (long long)(b);                               \
        if (a_ != b_) {                                                                   \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, \
                    #a, #b, a_, b_);                                                      \
            pp_test_failures++;                                                           \
        }                                                                                 \
    } while (0)

#define CHECK_STR(a, b)                                                                     \
    do {                                                                                    \
        const char *a_ = (a), *b_ = (b);                                                    \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n", __FILE__, __LINE__, \
                    #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");                        \
            pp_test_failures++;                                                             \
        }                                                                                   \
    } while (0)

#define TEST_MAIN_END()                                                     \
    do {                                                                    \
        if (pp_test_failures) {                                             \
            fprintf(stderr, "%d check(s) failed\n", pp_test_failures);      \
            return 1;                                                       \
        }                                                                   \
        printf("ok\n");                                                     \
        return 0;                                                           \
    } while (0)

#endif
