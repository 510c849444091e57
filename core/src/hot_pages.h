/* Memory that the signal handler reads or writes on every sample: the
 * unwind-rule cache, the capture buffers, the sample ring. Between two
 * samples the profiled program pushes their translations out of the TLB,
 * and each page a sample then touches costs a page walk: several memory
 * reads, many more under a VM's nested paging. Mapped here 2 MiB-aligned
 * with transparent huge pages asked for (MADV_HUGEPAGE: the kernel's
 * "madvise" mode gives them only to those who ask), one TLB entry covers up
 * to 2 MiB of it. Where the kernel has no huge page to give, or refuses the
 * advice, the memory is ordinary pages, made resident only where asked.
 * None of these functions is signal-safe. */
#ifndef PP_HOT_PAGES_H
#define PP_HOT_PAGES_H

#include <stddef.h>

/* len bytes, zeroed, at a 2 MiB boundary. The mapping takes at least 2 MiB
 * of address space (a huge page needs all of it mapped), and as much memory
 * when a huge page backs it; pages never touched take none otherwise. NULL
 * when out of memory. */
void *pp_hot_pages_map(size_t len);
void pp_hot_pages_unmap(void *p, size_t len);

/* Faults [p, p + len) in, writable, without changing a byte: safe while
 * signal handlers write to it. */
void pp_hot_pages_make_resident(void *p, size_t len);

#endif
