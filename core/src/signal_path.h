/* Code on the profiling signal's path is placed together in the text: the
 * profiled program runs between two samples long enough to push the
 * profiler's code out of the instruction TLB and caches, and every page of
 * code the handler then reaches costs a page walk (several memory reads,
 * many more under a VM's nested paging). The GNU and LLVM linkers gather
 * .text.hot.* input sections into one run, so the handler's functions, from
 * whichever file, share a page or two. */
#ifndef PP_SIGNAL_PATH_H
#define PP_SIGNAL_PATH_H

#define PP_SIGNAL_PATH __attribute__((section(".text.hot.polyprof_signal")))

#endif
