/* The signal mask of the threads the core and the bridges create for
 * themselves (the HTTP endpoint's, the Python bridge's GIL thread): a thread
 * inherits its creator's mask, so blocking around pthread_create (or a
 * library that creates threads) keeps them from ever taking the sampler's
 * signal or the application's. */
#ifndef PP_SIGNAL_MASK_H
#define PP_SIGNAL_MASK_H

#include <signal.h>

/* Blocks every asynchronous signal in the calling thread, faults (SEGV,
 * BUS, FPE, ILL) and ABRT excepted; the previous mask goes to *old, for
 * pthread_sigmask(SIG_SETMASK, old, NULL) afterwards. */
void pp_block_async_signals(sigset_t *old);

#endif
