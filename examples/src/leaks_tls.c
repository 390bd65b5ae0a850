/*
 * leaks_tls — blocks kept only by __thread variables: of the main thread, and of a
 * second thread that is still alive (blocked in pause) when main returns. Both are
 * still reachable: thread-local storage is a root. A block the second thread dropped
 * is definitely lost.
 *
 *   main's t_block        -> 1,100 bytes   reachable
 *   main's t_block -> ... -> 1,150 bytes   reachable (through a reachable block)
 *   worker's t_block      -> 2,200 bytes   reachable
 *   worker dropped           2,300 bytes   definitely lost
 *
 * glibc's own: pthread_create callocs the worker's dynamic thread vector (DTV, 288
 * bytes here; 16 bytes more per loaded module with TLS, so 32 more under memprof,
 * whose preload and its libunwind both have TLS); the thread control block points
 * to its second slot, an interior pointer, so it is possibly lost.
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 2,300 bytes in 1 blocks
 *   indirectly lost: 0 bytes in 0 blocks
 *     possibly lost: 288 bytes in 1 blocks   (glibc: the worker's DTV)
 *   still reachable: 4,450 bytes in 3 blocks
 */
#include "leaks_common.h"
#include <pthread.h>
#include <semaphore.h>
#include <unistd.h>

static __thread void **volatile t_block;
static sem_t g_ready;

__attribute__((noinline)) static void keep_in_tls(size_t size, size_t child_size) {
    void **block = leaks_alloc(size);
    if (child_size != 0)
        block[0] = leaks_alloc(child_size);
    t_block = block;
}

__attribute__((noinline)) static void drop(size_t size) { leaks_escape(leaks_alloc(size)); }

static void *worker(void *arg) {
    (void)arg;
    keep_in_tls(2200, 0);
    drop(2300);
    leaks_scrub_stack();
    sem_post(&g_ready);
    for (;;)
        pause();
    return NULL;
}

__attribute__((noinline)) static void start_worker(void) {
    pthread_t thread;
    if (pthread_create(&thread, NULL, worker, NULL) != 0)
        abort();
    while (sem_wait(&g_ready) != 0) {
    }
}

int main(void) {
    sem_init(&g_ready, 0, 0);
    keep_in_tls(1100, 1150);
    start_worker();
    leaks_scrub_stack();
    return 0;
}
