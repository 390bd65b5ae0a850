/*
 * churn — the allocation-heavy threaded workload of the benchmark suite.
 *   churn [THREADS=2] [ALLOCS_PER_THREAD=1000000]
 * Each thread makes ALLOCS_PER_THREAD allocations (malloc, calloc or realloc) of
 * 16 B..64 KiB at call depths 5..15, keeping a window of 256 live blocks; about a
 * tenth are reallocs of a live block. Built -O2 without frame pointers, like distro
 * binaries, so unwinding has to use DWARF CFI.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define WINDOW 256

struct state {
    unsigned seed;
    void *window[WINDOW];
};

static unsigned next(struct state *s) {
    s->seed = s->seed * 1103515245u + 12345u;
    return s->seed >> 8;
}

/* Sizes skewed small, like real programs: mostly 16..256, some up to 64 KiB. */
static size_t pick_size(struct state *s) {
    unsigned r = next(s);
    if ((r & 15) == 0)
        return 16 + (next(s) % 65521);
    return 16 + (next(s) % 241);
}

__attribute__((noinline)) static void allocate_one(struct state *s) {
    unsigned r = next(s);
    int slot = (int)(r % WINDOW);
    void *old = s->window[slot];
    if ((r >> 16) % 10 == 0 && old) {
        s->window[slot] = realloc(old, pick_size(s));
    } else {
        free(old);
        s->window[slot] = (r >> 20) % 8 == 0 ? calloc(1, pick_size(s)) : malloc(pick_size(s));
    }
}

/* Recursion to a chosen depth: a different chain of return addresses per depth. */
__attribute__((noinline)) static void level(struct state *s, int depth) {
    if (depth <= 0) {
        allocate_one(s);
        return;
    }
    if (depth & 1)
        level(s, depth - 1);
    else
        level(s, depth - 1);
    __asm__ volatile("" ::: "memory"); /* keep the call from becoming a tail call */
}

static long g_per_thread = 1000000;

static void *worker(void *arg) {
    struct state s = {.seed = (unsigned)(size_t)arg * 2654435761u};
    memset(s.window, 0, sizeof s.window);
    for (long i = 0; i < g_per_thread; i++)
        level(&s, 5 + (int)(next(&s) % 11));
    for (int i = 0; i < WINDOW; i++)
        free(s.window[i]);
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2;
    if (argc > 2)
        g_per_thread = atol(argv[2]);
    if (n < 1 || n > 64)
        return 2;
    pthread_t t[64];
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, (void *)(size_t)(i + 1));
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return 0;
}
