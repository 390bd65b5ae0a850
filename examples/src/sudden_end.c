/*
 * sudden_end — allocates a known set of blocks, then ends without exit():
 * the test input for traces of processes that die or leave at once
 * (Tests/IntegrationTests/HostSafetyTests.swift).
 *
 *   sudden_end segv|abort|term|_exit|quiet-kill|term-at-exit|at-once|constructor
 *
 * Every way but the last two first makes 1,121 allocations (malloc of 1..1121 bytes,
 * 628,881 bytes in all) and frees the 747 of even size or a multiple of 3, from two
 * threads (the worker waits with its blocks; its start adds glibc's DTV), then: segv dereferences NULL, abort
 * aborts, term raises SIGTERM, _exit calls _exit(3), quiet-kill waits 1.5 s and
 * raises SIGKILL, term-at-exit keeps 200,000 more blocks of 16 bytes (not freed) and
 * returns from main, and an atexit handler has a third thread send the process SIGTERM
 * 1 ms later, while memprof finishes the trace (bare, the process may be gone by then). at-once dereferences NULL first
 * thing in main; constructor does so in a constructor, before main.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *volatile g_blocks[1122];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_worker_done;

static int freed(int size) { return size % 2 == 0 || size % 3 == 0; }

__attribute__((noinline)) static void allocate_range(int from, int to) {
    for (int size = from; size <= to; size++)
        g_blocks[size] = malloc((size_t)size);
    for (int size = from; size <= to; size++)
        if (freed(size))
            free(g_blocks[size]);
}

static void *worker(void *arg) {
    (void)arg;
    allocate_range(601, 1121);
    pthread_mutex_lock(&g_lock);
    g_worker_done = 1;
    pthread_cond_signal(&g_cond);
    pthread_mutex_unlock(&g_lock);
    for (;;)
        pause();
    return NULL;
}

static void *sender(void *arg) {
    (void)arg;
    usleep(1000);
    kill(getpid(), SIGTERM);
    for (;;)
        pause();
    return NULL;
}

static void send_term_soon(void) {
    sigset_t term;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &term, NULL);
    pthread_t t;
    pthread_create(&t, NULL, sender, NULL);
}

static void crash(void) {
    volatile int *null = NULL;
    *null = 1;
}

static int g_crash_in_constructor;

__attribute__((constructor)) static void early(void) {
    const char *how = getenv("SUDDEN_END_CONSTRUCTOR");
    g_crash_in_constructor = how && strcmp(how, "1") == 0;
    if (g_crash_in_constructor)
        crash();
}

int main(int argc, char **argv) {
    const char *how = argc > 1 ? argv[1] : "";
    if (strcmp(how, "at-once") == 0)
        crash();
    allocate_range(1, 600);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_create(&t, &attr, worker, NULL);
    pthread_mutex_lock(&g_lock);
    while (!g_worker_done)
        pthread_cond_wait(&g_cond, &g_lock);
    pthread_mutex_unlock(&g_lock);
    if (strcmp(how, "abort") == 0)
        abort();
    if (strcmp(how, "term") == 0) {
        /* Whoever started us may have blocked it (a test runner does). */
        sigset_t term;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        pthread_sigmask(SIG_UNBLOCK, &term, NULL);
        raise(SIGTERM);
    }
    if (strcmp(how, "_exit") == 0)
        _exit(3);
    if (strcmp(how, "term-at-exit") == 0) {
        static void *volatile kept[200000];
        for (int i = 0; i < 200000; i++)
            kept[i] = malloc(16);
        atexit(send_term_soon);
        return 0;
    }
    if (strcmp(how, "quiet-kill") == 0) {
        usleep(1500000);
        raise(SIGKILL);
    }
    crash();
    return 0;
}
