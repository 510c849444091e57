/* Samples carry their thread's id without a system call per sample (the id
 * is cached per thread): each thread's samples must still be labelled with
 * its own kernel id, and in a fork's child with the child's, not the ids the
 * parent's threads had cached before the fork. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "burn.h"
#include "check.h"
#include "polyprof.h"

#define N_WORKERS 3
#define BURN_MS 150

static pid_t worker_tids[N_WORKERS];
static int worker_cached_ok[N_WORKERS];

static void *worker(void *arg)
{
    int i = (int)(intptr_t)arg;
    worker_tids[i] = (pid_t)syscall(SYS_gettid);
    worker_cached_ok[i] = pp_thread_id() == worker_tids[i] && pp_thread_id() == worker_tids[i];
    burn_ms(BURN_MS);
    return NULL;
}

/* CPU seconds the profile gives each thread id; the ids not among want[]
 * are added into *stray. */
static void cpu_by_thread(pp_profile *p, const pid_t *want, int n, int64_t *out, int64_t *stray)
{
    memset(out, 0, sizeof(int64_t) * (size_t)n);
    *stray = 0;
    for (size_t i = 0; i < pp_profile_num_samples(p); i++) {
        for (uint32_t l = 0; l < pp_profile_sample_num_labels(p, i); l++) {
            pp_label_view v;
            pp_profile_sample_label(p, i, l, &v);
            if (strcmp(v.key, "thread_id") != 0 || v.str)
                continue;
            int k = 0;
            while (k < n && want[k] != (pid_t)v.num)
                k++;
            if (k < n)
                out[k] += pp_profile_value(p, i, 1);
            else
                *stray += pp_profile_value(p, i, 1);
        }
    }
}

/* A CPU profile of the calling thread and N_WORKERS others, each burning
 * BURN_MS: every thread's samples are under its own id, none under another. */
static void profile_threads(const char *where)
{
    char err[256];
    pp_options o;
    pp_options_default(&o);
    CHECK_EQ_INT(pp_options_parse(&o, "interval=2ms", err, sizeof err), 0);
    pp_collector *c = pp_collector_start(&o, NULL, NULL, err, sizeof err);
    CHECK(c != NULL);
    if (!c)
        return;
    pthread_t th[N_WORKERS];
    for (int i = 0; i < N_WORKERS; i++)
        CHECK_EQ_INT(pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i), 0);
    burn_ms(BURN_MS);
    for (int i = 0; i < N_WORKERS; i++)
        pthread_join(th[i], NULL);
    pp_profile *p = pp_collector_stop(c);
    CHECK(p != NULL);
    if (!p)
        return;
    pid_t want[N_WORKERS + 1];
    int64_t cpu[N_WORKERS + 1], stray;
    for (int i = 0; i < N_WORKERS; i++) {
        want[i] = worker_tids[i];
        CHECK(worker_cached_ok[i]);
    }
    want[N_WORKERS] = (pid_t)syscall(SYS_gettid);
    CHECK_EQ_INT(pp_thread_id(), want[N_WORKERS]);
    cpu_by_thread(p, want, N_WORKERS + 1, cpu, &stray);
    printf("%s: CPU ms by thread:", where);
    for (int i = 0; i <= N_WORKERS; i++)
        printf(" %d=%.0f", (int)want[i], (double)cpu[i] / 1e6);
    printf(", under other ids %.0f\n", (double)stray / 1e6);
    /* Each thread burned 150 ms: at 2 ms a thread with none of it sampled
     * under its id is a wrong id, not chance. */
    for (int i = 0; i <= N_WORKERS; i++)
        CHECK(cpu[i] > 0);
    CHECK_EQ_INT(stray, 0);
    pp_profile_free(p);
}

int main(void)
{
    /* The parent's main thread caches its id before the fork. */
    pid_t parent_tid = (pid_t)syscall(SYS_gettid);
    CHECK_EQ_INT(pp_thread_id(), parent_tid);
    profile_threads("parent");

    fflush(stdout);
    pid_t child = fork();
    CHECK(child >= 0);
    if (child == 0) {
        pid_t own = (pid_t)syscall(SYS_gettid);
        int ok = pp_thread_id() == own && own != parent_tid;
        if (!ok)
            fprintf(stderr, "child: pp_thread_id() %d, gettid %d, parent's %d\n", pp_thread_id(), (int)own,
                    (int)parent_tid);
        profile_threads("child");
        fflush(stdout);
        _exit(ok && pp_test_failures == 0 ? 0 : 1);
    }
    int status = 0;
    CHECK_EQ_INT(waitpid(child, &status, 0), child);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK_EQ_INT(pp_thread_id(), parent_tid);
    TEST_MAIN_END();
}
