/*
 * crash_burst — allocates a known burst, goes quiet, then dies without exiting:
 * the test input for crash-safe traces (Tests/IntegrationTests/CrashTests.swift).
 *
 *   crash_burst kill|segv|abort
 *
 * The main thread keeps 1000 blocks of 100 bytes (burst_main); a worker keeps 500
 * blocks of 200 bytes (burst_worker) and then waits forever. Neither thread fills a
 * 64 KiB event buffer, so nothing reaches the writer on its own. One second later
 * the process kills itself with SIGKILL, dereferences NULL, or aborts. A trace must
 * still hold all 1500 allocations.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile g_keep[1500];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_done = PTHREAD_COND_INITIALIZER;
static int g_worker_done;

__attribute__((noinline)) static void burst_main(void) {
    for (int i = 0; i < 1000; i++)
        g_keep[i] = malloc(100);
}

__attribute__((noinline)) static void burst_worker(void) {
    for (int i = 0; i < 500; i++)
        g_keep[1000 + i] = malloc(200);
}

static void *worker(void *arg) {
    (void)arg;
    burst_worker();
    pthread_mutex_lock(&g_lock);
    g_worker_done = 1;
    pthread_cond_signal(&g_done);
    pthread_mutex_unlock(&g_lock);
    for (;;)
        pause();
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2 || (strcmp(argv[1], "kill") && strcmp(argv[1], "segv") && strcmp(argv[1], "abort"))) {
        fprintf(stderr, "usage: crash_burst kill|segv|abort\n");
        return 2;
    }
    burst_main();
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_mutex_lock(&g_lock);
    while (!g_worker_done)
        pthread_cond_wait(&g_done, &g_lock);
    pthread_mutex_unlock(&g_lock);
    sleep(1);
    if (strcmp(argv[1], "kill") == 0)
        raise(SIGKILL);
    if (strcmp(argv[1], "abort") == 0)
        abort();
    volatile int *null = NULL;
    return *null;
}
