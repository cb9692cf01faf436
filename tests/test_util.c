/* tests/test_util.c: the utility layer: atomic replacement keeps the old file whole on failure,
 * whole-file reads keep NUL bytes and refuse oversized files, mkdir -p, durations in one format,
 * the spawner's exit codes (exec failure, a held lock) and its captured output, a loop split
 * across threads computing every item once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "remove_tree.h"
#include "util/duration.h"
#include "util/fs.h"
#include "util/mix64.h"
#include "util/parallel.h"
#include "util/spawn.h"

static void temp_dir(char *dir, size_t n)
{
    snprintf(dir, n, "/tmp/dlcm-test-util-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

Test(util, atomic_replacement_is_all_or_nothing)
{
    char dir[64], path[128], err[512];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/a.txt", dir);
    cr_assert_eq(fs_write_text_atomic(path, "first\n", err, sizeof err), 0, "%s", err);
    cr_assert_eq(fs_write_text_atomic(path, "second\n", err, sizeof err), 0, "%s", err);
    size_t len;
    char *text = fs_read_file(path, 1 << 20, &len, err, sizeof err);
    cr_assert_str_eq(text, "second\n");
    free(text);
    /* A stream that is abandoned leaves the old file as it was, and no temporary behind. */
    FsReplace r;
    cr_assert_eq(fs_replace_open(&r, path, err, sizeof err), 0, "%s", err);
    fputs("half a fi", r.f);
    fs_replace_abort(&r);
    text = fs_read_file(path, 1 << 20, &len, err, sizeof err);
    cr_assert_str_eq(text, "second\n");
    free(text);
    cr_assert_neq(access(r.tmp, F_OK), 0, "the temporary is gone");
    cr_assert_eq(fs_replace_open(&r, path, err, sizeof err), 0, "%s", err);
    fputs("third\n", r.f);
    cr_assert_eq(fs_replace_commit(&r, err, sizeof err), 0, "%s", err);
    text = fs_read_file(path, 1 << 20, &len, err, sizeof err);
    cr_assert_str_eq(text, "third\n");
    free(text);
    /* A directory that does not exist: an error naming the file, nothing written. */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/x", dir);
    cr_assert_eq(fs_write_text_atomic(missing, "x", err, sizeof err), -1);
    cr_assert(strstr(err, missing) != NULL, "%s", err);
    remove_tree(dir);
}

Test(util, whole_file_reads_keep_nul_bytes_and_refuse_oversized_files)
{
    char dir[64], path[128], err[512];
    temp_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/b.bin", dir);
    cr_assert_eq(fs_write_atomic(path, "ab\0cd", 5, err, sizeof err), 0, "%s", err);
    size_t len = 0;
    char *data = fs_read_file(path, 100, &len, err, sizeof err);
    cr_assert_not_null(data, "%s", err);
    cr_assert_eq(len, 5);
    cr_assert_eq(strlen(data), 2, "the caller sees the NUL by comparing lengths");
    free(data);
    cr_assert_null(fs_read_file(path, 4, &len, err, sizeof err));
    cr_assert(strstr(err, "larger than 4 bytes") != NULL, "%s", err);
    char nested[160];
    snprintf(nested, sizeof nested, "%s/x/y/z", dir);
    cr_assert_eq(fs_mkdirs(nested, err, sizeof err), 0, "%s", err);
    cr_assert_eq(fs_mkdirs(nested, err, sizeof err), 0, "an existing directory is fine");
    struct stat st;
    cr_assert(stat(nested, &st) == 0 && S_ISDIR(st.st_mode));
    remove_tree(dir);
}

Test(util, one_duration_format)
{
    char buf[32];
    format_duration(45, buf, sizeof buf);
    cr_assert_str_eq(buf, "45s");
    format_duration(185, buf, sizeof buf);
    cr_assert_str_eq(buf, "3m 05s");
    format_duration(2 * 3600 + 14 * 60 + 10, buf, sizeof buf);
    cr_assert_str_eq(buf, "2h 14m");
    format_duration(-1, buf, sizeof buf);
    cr_assert_str_eq(buf, "?");
    format_duration(0.0 / 0.0, buf, sizeof buf);
    cr_assert_str_eq(buf, "?");
}

Test(util, mix64_is_splitmix64)
{
    /* splitmix64's published first output for state 0 (the finalizer of 0x9e3779b97f4a7c15). */
    cr_assert_eq(rng_mix64(0), 0xe220a8397b1dcdafull);
    cr_assert_neq(rng_mix64(1), rng_mix64(2));
}

/* parallel_ranges: each call's ranges, recorded under a lock. */
typedef struct {
    pthread_mutex_t lock;
    unsigned char *hits; /* [n]: how many ranges covered each item */
    int ranges;
    size_t smallest, largest;
    int threads_seen;
    pthread_t first_thread;
} RangeLog;

static void log_range(size_t begin, size_t end, void *arg)
{
    RangeLog *log = arg;
    pthread_mutex_lock(&log->lock);
    for (size_t i = begin; i < end; i++) log->hits[i]++;
    size_t size = end - begin;
    if (log->ranges == 0 || size < log->smallest) log->smallest = size;
    if (size > log->largest) log->largest = size;
    if (log->ranges == 0) log->first_thread = pthread_self();
    else if (!pthread_equal(log->first_thread, pthread_self())) log->threads_seen = 2;
    log->ranges++;
    pthread_mutex_unlock(&log->lock);
}

Test(util, parallel_ranges_compute_every_item_once)
{
    /* n, min_chunk, max_threads, the ranges expected */
    struct { size_t n, min_chunk; int threads, ranges; } cases[] = {
        {0, 4, 8, 0},       {1, 4, 8, 1},     {7, 4, 8, 1},   {8, 4, 8, 2},
        {1000, 7, 8, 8},    {1003, 1, 64, 64}, {1003, 1, 500, 64}, {50, 0, 3, 3},
        {100000, 10, 1, 1}, {99, 10, 0, 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        RangeLog log = {.lock = PTHREAD_MUTEX_INITIALIZER, .threads_seen = 1};
        log.hits = calloc(cases[c].n + 1, 1);
        parallel_ranges(cases[c].n, cases[c].min_chunk, cases[c].threads, log_range, &log);
        cr_assert_eq(log.ranges, cases[c].ranges, "case %zu: %d ranges", c, log.ranges);
        for (size_t i = 0; i < cases[c].n; i++) cr_assert_eq(log.hits[i], 1, "case %zu: item %zu computed %d times", c, i, log.hits[i]);
        if (log.ranges > 1) {
            cr_assert_leq(log.largest - log.smallest, 1, "case %zu: ranges of %zu to %zu items", c, log.smallest, log.largest);
            cr_assert_geq(log.smallest, cases[c].min_chunk, "case %zu", c);
            cr_assert_eq(log.threads_seen, 2, "case %zu: every range ran on the calling thread", c);
        }
        free(log.hits);
    }
    cr_assert_geq(parallel_cpu_count(), 1);
}

Test(util, the_spawner_reports_exec_failures_and_held_locks)
{
    char out[512], err[512];
    const char *echo[] = {"echo", "hello", NULL};
    cr_assert_eq(spawn_capture(echo, out, sizeof out, err, sizeof err), 0, "%s", err);
    cr_assert_str_eq(out, "hello\n");
    const char *missing[] = {"/nonexistent/program", NULL};
    cr_assert_eq(spawn_capture(missing, out, sizeof out, err, sizeof err), -1);
    cr_assert(strstr(err, "cannot execute") != NULL && strstr(err, "/nonexistent/program") != NULL, "%s", err);
    const char *fails[] = {"false", NULL};
    cr_assert_eq(spawn_capture(fails, out, sizeof out, err, sizeof err), 1);

    /* A lock held by a live process: the child exits SPAWN_EXIT_LOCKED without running. */
    char dir[64], lock[128], marker[128], log[128];
    temp_dir(dir, sizeof dir);
    snprintf(lock, sizeof lock, "%s/.lock", dir);
    snprintf(log, sizeof log, "%s/log", dir);
    snprintf(marker, sizeof marker, "%s/ran", dir);
    int fd = open(lock, O_RDWR | O_CREAT, 0644);
    cr_assert(fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0);
    const char *touch[] = {"touch", marker, NULL};
    SpawnSpec spec = {.argv = touch, .lock_path = lock, .stderr_path = log};
    pid_t pid = spawn_process(&spec, err, sizeof err);
    cr_assert_gt(pid, 0, "%s", err);
    int status;
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == SPAWN_EXIT_LOCKED);
    cr_assert_neq(access(marker, F_OK), 0, "the program did not run");
    fs_read_tail(log, out, sizeof out);
    cr_assert(strstr(out, "held by another live process") != NULL, "%s", out);
    close(fd);
    pid = spawn_process(&spec, err, sizeof err);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    cr_assert_eq(access(marker, F_OK), 0, "with the lock free it runs");
    char how[128];
    spawn_describe_status(status, how, sizeof how);
    cr_assert_str_eq(how, "exit code 0");

    /* stdin from a file (a control program's command) */
    char input[128], copied[128];
    snprintf(input, sizeof input, "%s/input", dir);
    snprintf(copied, sizeof copied, "%s/copied", dir);
    cr_assert_eq(fs_write_text_atomic(input, "quit\n", err, sizeof err), 0, "%s", err);
    const char *cat[] = {"cat", NULL};
    SpawnSpec reads = {.argv = cat, .stdin_path = input, .stdout_path = copied, .truncate_output = 1};
    pid = spawn_process(&reads, err, sizeof err);
    cr_assert_gt(pid, 0, "%s", err);
    cr_assert_eq(waitpid(pid, &status, 0), pid);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    fs_read_tail(copied, out, sizeof out);
    cr_assert_str_eq(out, "quit\n", "the child read the file as its stdin");
    remove_tree(dir);
}
