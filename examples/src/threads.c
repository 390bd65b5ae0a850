/*
 * threads — allocation-heavy churn on several threads.
 *   threads [NTHREADS=2] [PER_THREAD=500000]
 * Each thread makes PER_THREAD allocations of 16..4111 bytes, keeping a window of
 * 64 live blocks, and frees everything before it ends. Nothing leaks.
 * allocations = deallocations = NTHREADS * PER_THREAD.
 */
#include <pthread.h>
#include <stdlib.h>

static long g_per_thread = 500000;

static void *worker(void *arg) {
    unsigned seed = (unsigned)(size_t)arg * 2654435761u;
    void *window[64] = {0};
    for (long i = 0; i < g_per_thread; i++) {
        seed = seed * 1103515245u + 12345u;
        int slot = (int)((seed >> 8) & 63);
        free(window[slot]);
        window[slot] = malloc(16 + ((seed >> 16) & 4095));
    }
    for (int i = 0; i < 64; i++)
        free(window[i]);
    return NULL;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2;
    if (argc > 2)
        g_per_thread = atol(argv[2]);
    pthread_t t[64];
    if (n < 1 || n > 64)
        return 2;
    for (int i = 0; i < n; i++)
        pthread_create(&t[i], NULL, worker, (void *)(size_t)(i + 1));
    for (int i = 0; i < n; i++)
        pthread_join(t[i], NULL);
    return 0;
}
