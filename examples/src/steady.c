// A steady workload for aggregate mode's tests and benchmark: THREADS threads that
// each keep RING live blocks from four sites (a ring of slots, the oldest freed as a
// new one comes), and make a temporary per step, until the given number of steps is
// done. The live heap and the set of stacks stop changing after the first ring; only
// the counts grow.
//
// Usage: steady [steps per thread | SECONDSs] [threads] [idle SECONDS | handle-usr2]
//   (defaults 1000000 steps, 2 threads; "30s" runs for 30 seconds instead)
//   idle SECONDS: sleep that long after the work (time to send signals);
//   handle-usr2: the program handles SIGUSR2 itself; after the work it waits (up to
//   10 s) for one, then prints how many it got.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RING 1024

static long steps = 1000000;
static double run_seconds; /* > 0: run this long instead of `steps` */

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
static volatile sig_atomic_t usr2_seen;
static volatile char sink;

__attribute__((noinline)) static void *site_small(void) { return malloc(24); }
__attribute__((noinline)) static void *site_medium(void) { return malloc(200); }
__attribute__((noinline)) static void *site_large(void) { return malloc(4000); }
__attribute__((noinline)) static void *site_array(void) { return calloc(16, 8); }

__attribute__((noinline)) static void temporary(void) {
    char *t = malloc(64);
    if (t)
        t[0] = 1;
    sink = t ? t[0] : 0;
    free(t);
}

static void *worker(void *arg) {
    (void)arg;
    void *ring[RING] = {0};
    double deadline = run_seconds > 0 ? now_seconds() + run_seconds : 0;
    for (long i = 0; deadline ? (i % 4096 != 0 || now_seconds() < deadline) : i < steps; i++) {
        int slot = (int)(i % RING);
        free(ring[slot]);
        switch (i & 3) {
        case 0:
            ring[slot] = site_small();
            break;
        case 1:
            ring[slot] = site_medium();
            break;
        case 2:
            ring[slot] = site_large();
            break;
        default:
            ring[slot] = site_array();
            break;
        }
        if ((i & 7) == 0)
            temporary();
    }
    for (int k = 0; k < RING; k++)
        free(ring[k]);
    return NULL;
}

static void on_usr2(int sig) {
    (void)sig;
    usr2_seen++;
}

int main(int argc, char **argv) {
    if (argc > 1) {
        char *end;
        steps = strtol(argv[1], &end, 10);
        if (*end == 's')
            run_seconds = (double)steps;
    }
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    int handle = argc > 3 && strcmp(argv[3], "handle-usr2") == 0;
    int idle = argc > 4 && strcmp(argv[3], "idle") == 0 ? atoi(argv[4]) : 0;
    if (handle)
        signal(SIGUSR2, on_usr2);
    if (threads < 1 || threads > 64 || steps < 0) {
        fprintf(stderr, "usage: steady [steps] [threads 1-64] [idle SECONDS | handle-usr2]\n");
        return 2;
    }
    pthread_t t[64];
    for (int i = 0; i < threads; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++)
        pthread_join(t[i], NULL);
    struct timespec tenth = {0, 100000000};
    for (int i = 0; i < idle * 10; i++)
        nanosleep(&tenth, NULL);
    for (int i = 0; handle && !usr2_seen && i < 100; i++)
        nanosleep(&tenth, NULL);
    if (handle)
        printf("usr2 %d\n", (int)usr2_seen);
    return 0;
}
