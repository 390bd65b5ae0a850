/*
 * leaks_busy_threads [park|race] — worker threads still running when main returns.
 * Each worker drops one block (definite), keeps one on its stack (reachable), and then
 * churns: each step mallocs a block, puts it into its ring of 16 slots in a global
 * table and frees the block that slot held.
 *
 *   park (default): once every worker has made 1,000 steps, main asks them to stop
 *     churning; they say so and spin (running, allocating nothing) until the process
 *     ends. The result is deterministic, for comparison with valgrind.
 *   race: main returns while the workers churn, so a scan at exit runs while other
 *     threads are inside malloc and free. Up to one block per worker may be in flight
 *     (allocated, not yet in the ring: reachable from the worker's registers or stack),
 *     and the figures can differ from run to run by that much.
 *
 *   worker i (i = 0, 1):  drops 1,000 + i bytes                definite
 *                         stack -> 2,000 + i bytes             reachable
 *                         ring: 16 blocks of 96 + 16 i bytes   reachable
 *
 * Expected in park mode, and measured with valgrind 3.19 (--leak-check=full
 * --show-leak-kinds=all --leak-check-heuristics=none --default-suppressions=no
 * --run-libc-freeres=no):
 *   definitely lost: 2,001 bytes in 2 blocks
 *   indirectly lost: 0 bytes in 0 blocks
 *     possibly lost: 544 bytes in 2 blocks   (glibc: the workers' DTVs, as in leaks_tls)
 *   still reachable: 7,329 bytes in 34 blocks
 * In race mode valgrind said 36 reachable blocks (7,537 bytes) in each of 3 runs: both
 * workers had a block in flight, seen in their registers.
 */
#include "leaks_common.h"
#include <pthread.h>
#include <stdatomic.h>

enum { WORKERS = 2, RING = 16, WARM_UP_STEPS = 1000 };

void *volatile g_rings[WORKERS][RING];
static atomic_long g_steps[WORKERS];
static atomic_int g_parked;
static atomic_int g_park;

__attribute__((noinline)) static void drop(size_t size) { leaks_escape(leaks_alloc(size)); }

/* One churn step: a fresh block into slot `step % RING`, the block it held freed. */
__attribute__((noinline)) static void churn(int worker, long step) {
    void *fresh = leaks_alloc(96 + 16 * (size_t)worker);
    void *old = g_rings[worker][step % RING];
    g_rings[worker][step % RING] = fresh;
    free(old);
}

__attribute__((noinline)) static void hold_and_churn(int worker) {
    void *volatile held = leaks_alloc(2000 + (size_t)worker);
    for (long step = 0;; step++) {
        /* A full ring before parking, so the number of live blocks is fixed. */
        if (step >= RING && atomic_load(&g_park)) {
            leaks_scrub_registers();
            atomic_fetch_add(&g_parked, 1);
            for (;;)
                leaks_escape((void *)&held);
        }
        churn(worker, step);
        atomic_store(&g_steps[worker], step + 1);
    }
}

static void *worker(void *arg) {
    int index = (int)(long)arg;
    drop(1000 + (size_t)index);
    leaks_scrub_stack();
    hold_and_churn(index);
    return NULL;
}

__attribute__((noinline)) static void start_workers(void) {
    for (long i = 0; i < WORKERS; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, worker, (void *)i) != 0)
            abort();
    }
    for (int i = 0; i < WORKERS; i++)
        while (atomic_load(&g_steps[i]) < WARM_UP_STEPS)
            sched_yield();
}

int main(int argc, char **argv) {
    int race = argc > 1 && strcmp(argv[1], "race") == 0;
    start_workers();
    if (!race) {
        atomic_store(&g_park, 1);
        while (atomic_load(&g_parked) < WORKERS)
            sched_yield();
    }
    leaks_scrub_stack();
    return 0;
}
