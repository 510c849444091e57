#include "hot_pages.h"

#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define HUGE_PAGE ((size_t)2 << 20)

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static size_t mapped_len(size_t len) { return len < HUGE_PAGE ? HUGE_PAGE : (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1); }

void *pp_hot_pages_map(size_t len)
{
    size_t want = mapped_len(len);
    /* One huge page more than needed, to cut an aligned run out of it. */
    unsigned char *m = mmap(NULL, want + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    unsigned char *start = (unsigned char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (start > m)
        munmap(m, (size_t)(start - m));
    if (m + want + HUGE_PAGE > start + want)
        munmap(start + want, (size_t)(m + want + HUGE_PAGE - (start + want)));
    /* Advice only: refused (a kernel without transparent huge pages), the
     * mapping works the same on ordinary pages. */
    (void)madvise(start, want, MADV_HUGEPAGE);
    return start;
}

void pp_hot_pages_unmap(void *p, size_t len)
{
    if (p)
        munmap(p, mapped_len(len));
}

/* MADV_POPULATE_WRITE faults the pages in without writing to them. Older
 * kernels refuse it: there each page gets an atomic OR of zero, a write that
 * cannot change what a handler wrote. */
void pp_hot_pages_make_resident(void *p, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    if (page == 0 || page == (uintptr_t)-1)
        page = 4096;
    uintptr_t start = (uintptr_t)p & ~(page - 1), end = ((uintptr_t)p + len + page - 1) & ~(page - 1);
    if (start >= end || madvise((void *)start, end - start, MADV_POPULATE_WRITE) == 0)
        return;
    for (uintptr_t a = start; a < end; a += page)
        atomic_fetch_or_explicit((_Atomic uint64_t *)a, 0, memory_order_relaxed);
}
