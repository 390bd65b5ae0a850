/*
 * leaks_thread_stack — blocks whose only pointer is on the stack of another thread,
 * still alive when main returns: one thread blocked in pause(), one in a condition
 * wait that is never signalled, one in nanosleep. Thread stacks are roots, from the
 * stack pointer up, so the blocks are still reachable. Each thread also drops a block,
 * definitely lost.
 *
 *   pause thread:  stack -> 1,234 bytes   reachable;  drops 1,300 bytes   definite
 *   cond thread:   stack -> 2,345 bytes   reachable;  drops 2,400 bytes   definite
 *   sleep thread:  stack -> 3,456 bytes   reachable;  drops 3,500 bytes   definite
 *
 * glibc's own: each pthread_create callocs the thread's dynamic thread vector (DTV,
 * 272 bytes here, larger under memprof as in leaks_tls); the thread control block
 * points to its second slot, so it is possibly lost (an interior pointer).
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 7,200 bytes in 3 blocks
 *   indirectly lost: 0 bytes in 0 blocks
 *     possibly lost: 816 bytes in 3 blocks   (glibc: the DTVs)
 *   still reachable: 7,035 bytes in 3 blocks
 */
#include "leaks_common.h"
#include <pthread.h>
#include <semaphore.h>
#include <time.h>
#include <unistd.h>

enum wait_kind { WAIT_PAUSE, WAIT_COND, WAIT_SLEEP };

static sem_t g_ready;
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_never = PTHREAD_COND_INITIALIZER;

__attribute__((noinline)) static void drop(size_t size) { leaks_escape(leaks_alloc(size)); }

/* Blocks for good while `block` stays in this frame. */
__attribute__((noinline)) static void hold_and_wait(size_t size, enum wait_kind wait) {
    void *volatile block = leaks_alloc(size);
    leaks_scrub_registers();
    sem_post(&g_ready);
    for (;;) {
        switch (wait) {
        case WAIT_PAUSE:
            pause();
            break;
        case WAIT_COND:
            pthread_mutex_lock(&g_mutex);
            pthread_cond_wait(&g_never, &g_mutex);
            pthread_mutex_unlock(&g_mutex);
            break;
        case WAIT_SLEEP: {
            struct timespec hour = {3600, 0};
            nanosleep(&hour, NULL);
            break;
        }
        }
    }
    leaks_escape(block);
}

static void *waiter(void *arg) {
    enum wait_kind wait = (enum wait_kind)(long)arg;
    static const size_t dropped[] = {1300, 2400, 3500};
    static const size_t held[] = {1234, 2345, 3456};
    drop(dropped[wait]);
    leaks_scrub_stack();
    hold_and_wait(held[wait], wait);
    return NULL;
}

__attribute__((noinline)) static void start_waiters(void) {
    for (long wait = WAIT_PAUSE; wait <= WAIT_SLEEP; wait++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, waiter, (void *)wait) != 0)
            abort();
        while (sem_wait(&g_ready) != 0) {
        }
    }
}

int main(void) {
    sem_init(&g_ready, 0, 0);
    start_waiters();
    leaks_scrub_stack();
    return 0;
}
