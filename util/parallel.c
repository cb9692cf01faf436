/* util/parallel.c: parallel_ranges with POSIX threads: one thread a range, started and joined
 * per call (the callers run it once per model, so a pool would buy nothing). */
#include "util/parallel.h"

#include <pthread.h>
#include <unistd.h>

#define PARALLEL_MAX_THREADS 64

typedef struct {
    ParallelRangeFn fn;
    void *arg;
    size_t begin, end;
} RangeJob;

static void *run_range(void *p)
{
    RangeJob *job = p;
    job->fn(job->begin, job->end, job->arg);
    return NULL;
}

int parallel_cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

void parallel_ranges(size_t n, size_t min_chunk, int max_threads, ParallelRangeFn fn, void *arg)
{
    if (n == 0) return;
    if (min_chunk == 0) min_chunk = 1;
    size_t ranges = n / min_chunk;
    if (max_threads > PARALLEL_MAX_THREADS) max_threads = PARALLEL_MAX_THREADS;
    if (max_threads < 1) max_threads = 1;
    if (ranges > (size_t)max_threads) ranges = (size_t)max_threads;
    if (ranges < 2) {
        fn(0, n, arg);
        return;
    }
    RangeJob jobs[PARALLEL_MAX_THREADS];
    pthread_t threads[PARALLEL_MAX_THREADS];
    int started[PARALLEL_MAX_THREADS] = {0};
    for (size_t r = 0; r < ranges; r++) {
        /* range r: [n r / ranges, n (r + 1) / ranges), sizes differing by at most one item */
        jobs[r] = (RangeJob){fn, arg, n / ranges * r + n % ranges * r / ranges,
                             n / ranges * (r + 1) + n % ranges * (r + 1) / ranges};
        if (r > 0) started[r] = pthread_create(&threads[r], NULL, run_range, &jobs[r]) == 0;
    }
    run_range(&jobs[0]);
    for (size_t r = 1; r < ranges; r++) {
        if (started[r])
            pthread_join(threads[r], NULL);
        else
            run_range(&jobs[r]);
    }
}
