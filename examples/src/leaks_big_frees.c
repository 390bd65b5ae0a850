/*
 * leaks_big_frees — a worker thread still allocating and freeing when main returns,
 * blocks big enough that glibc maps each one on its own (above its largest mmap
 * threshold, 32 MiB), so that every free unmaps one. A leak scan at exit that still
 * listed a block freed after recording ended would read unmapped memory and crash
 * the program (one worker: no other thread maps the hole again meanwhile); one that
 * missed a block allocated then would not find what g_slot points to. Each step mallocs
 * a block, puts it into g_slot and frees the one g_slot held.
 *
 *   g_slot -> 40 MiB                     reachable
 *   in flight: at most one more block    reachable
 *
 * Expected in every run: nothing lost but the worker's DTV (possibly lost, as in
 * leaks_tls), and 1 or 2 blocks of 40 MiB still reachable. Not compared with valgrind:
 * where the worker is caught differs from run to run.
 */
#include "leaks_common.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

enum { WARM_UP_STEPS = 100 };
#define BLOCK_SIZE ((size_t)40 << 20)

void *volatile g_slot;
static atomic_long g_steps;

/* Not leaks_alloc: a fresh mapping is zero already, and zeroing it would touch
 * 40 MiB a step. */
__attribute__((noinline)) static void churn(void) {
    void *fresh = malloc(BLOCK_SIZE);
    if (fresh == NULL)
        abort();
    void *old = g_slot;
    g_slot = fresh;
    free(old);
}

static void *worker(void *arg) {
    (void)arg;
    for (long step = 1;; step++) {
        churn();
        atomic_store(&g_steps, step);
    }
    return NULL;
}

int main(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, NULL) != 0)
        abort();
    while (atomic_load(&g_steps) < WARM_UP_STEPS)
        sched_yield();
    leaks_scrub_stack();
    return 0;
}
