// A workload whose memory grows at a known constant rate, for the trend tests
// (Tests/IntegrationTests/TrendTests.swift):
//
//   - leak_block: leaks 4 KiB blocks so that the bytes leaked follow the clock,
//     LEAK_RATE bytes per second exactly (to within one block), for DURATION seconds;
//   - cache_insert: a bounded cache of CACHE_ENTRIES 1 KiB entries that evicts its
//     oldest entry once full: it fills in the first third of a second, then stays flat;
//   - scratch: many small temporaries per step, so that the trace's clock (a TIME
//     record every 256 events at most) keeps up with the 10 ms steps.
//
// Usage: growth [seconds]   (default 2)
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEAK_RATE (400 * 1024) /* bytes per second */
#define LEAK_BLOCK 4096
#define CACHE_ENTRIES 32
#define CACHE_ENTRY 1024
#define STEP_NS 10000000L

static char *cache[CACHE_ENTRIES];
static int cache_next;
static volatile char sink;

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

__attribute__((noinline)) static void leak_block(void) {
    char *block = malloc(LEAK_BLOCK);
    if (block)
        memset(block, 0xab, LEAK_BLOCK);
    sink = block ? block[0] : 0; // the pointer is dropped: definitely lost
}

__attribute__((noinline)) static void cache_insert(void) {
    free(cache[cache_next]); // evicts the oldest entry once the cache is full
    cache[cache_next] = malloc(CACHE_ENTRY);
    if (cache[cache_next])
        memset(cache[cache_next], 1, CACHE_ENTRY);
    cache_next = (cache_next + 1) % CACHE_ENTRIES;
}

__attribute__((noinline)) static void scratch(void) {
    for (int i = 0; i < 150; i++) {
        char *temporary = malloc(32 + i % 16);
        if (temporary)
            temporary[0] = (char)i;
        sink = temporary ? temporary[0] : 0;
        free(temporary);
    }
}

int main(int argc, char **argv) {
    double duration = argc > 1 ? atof(argv[1]) : 2.0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    long leaked = 0;
    for (;;) {
        double elapsed = seconds_since(&start);
        if (elapsed >= duration)
            break;
        while (leaked + LEAK_BLOCK <= (long)(elapsed * LEAK_RATE)) {
            leak_block();
            leaked += LEAK_BLOCK;
        }
        cache_insert();
        scratch();
        struct timespec step = {0, STEP_NS};
        nanosleep(&step, NULL);
    }
    return 0; // the cache stays allocated, reachable from `cache`: not a leak
}
