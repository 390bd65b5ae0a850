/*
 * entry_points — every allocation entry point, each from its own function, 100 times:
 * the test input for hooks whose real function calls back into another hook
 * (Tests/IntegrationTests/HostSafetyTests.swift). glibc's reallocarray calls realloc
 * through the PLT; jemalloc has no pvalloc or reallocarray, so behind memprof
 * (`memprof run --jemalloc`) the next definition is glibc's.
 *
 *   entry_points [pvalloc]
 *
 * Per round: ep_reallocarray 2 allocations and 2 frees (reallocarray(NULL), then of
 * that block, then to 0 elements, which frees); ep_realloc the same with realloc;
 * ep_calloc, ep_memalign, ep_aligned_alloc,
 * ep_posix_memalign, ep_valloc 1 and 1 each; with `pvalloc`, ep_pvalloc 1 and 1 too
 * (valgrind 3.19 aborts on pvalloc, so its comparisons run without it). Bytes per
 * round: 40 + 4000 + 24 + 240 + 48 + 64 + 96 + 128 + 200 (+ 20).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile g_sink;

__attribute__((noinline)) static void ep_reallocarray(void) {
    int *a = reallocarray(NULL, 10, 4);
    a = reallocarray(a, 1000, 4);
    g_sink = a;
    void *gone = reallocarray(a, 0, 4); /* realloc(a, 0): frees a, returns NULL */
    g_sink = gone;
}

__attribute__((noinline)) static void ep_realloc(void) {
    char *p = realloc(NULL, 24);
    p = realloc(p, 240);
    g_sink = p;
    g_sink = realloc(p, 0);
}

__attribute__((noinline)) static void ep_calloc(void) {
    g_sink = calloc(6, 8);
    free(g_sink);
}

__attribute__((noinline)) static void ep_memalign(void) {
    g_sink = memalign(64, 64);
    free(g_sink);
}

__attribute__((noinline)) static void ep_aligned_alloc(void) {
    g_sink = aligned_alloc(32, 96);
    free(g_sink);
}

__attribute__((noinline)) static void ep_posix_memalign(void) {
    void *p = NULL;
    if (posix_memalign(&p, 128, 128) == 0)
        free(p);
}

__attribute__((noinline)) static void ep_valloc(void) {
    g_sink = valloc(200);
    free(g_sink);
}

__attribute__((noinline)) static void ep_pvalloc(void) {
    g_sink = pvalloc(20);
    free(g_sink);
}

int main(int argc, char **argv) {
    int with_pvalloc = argc > 1 && strcmp(argv[1], "pvalloc") == 0;
    for (int i = 0; i < 100; i++) {
        ep_reallocarray();
        ep_realloc();
        ep_calloc();
        ep_memalign();
        ep_aligned_alloc();
        ep_posix_memalign();
        ep_valloc();
        if (with_pvalloc)
            ep_pvalloc();
    }
    puts("done");
    return 0;
}
