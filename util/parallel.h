/* util/parallel.h: a loop over [0, n) split across threads in contiguous ranges, for work whose
 * result does not depend on the split (each item computed from its index alone). */
#ifndef DLCM_UTIL_PARALLEL_H
#define DLCM_UTIL_PARALLEL_H

#include <stddef.h>

/* Computes the items [begin, end); arg is parallel_ranges' arg, shared by every range. */
typedef void (*ParallelRangeFn)(size_t begin, size_t end, void *arg);

/* Runs fn over [0, n) in at most max_threads contiguous ranges of at least min_chunk items (one
 * range, in the calling thread, when n < 2 * min_chunk or max_threads < 2); the calling thread
 * takes the first range and waits for the others. A thread that cannot be started leaves its
 * range to the calling thread, so every item is computed exactly once whatever happens. */
void parallel_ranges(size_t n, size_t min_chunk, int max_threads, ParallelRangeFn fn, void *arg);

/* Processors online (at least 1). */
int parallel_cpu_count(void);

#endif
