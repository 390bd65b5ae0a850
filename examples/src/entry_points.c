/*
 * entry_points — one call of every allocation entry point the preload interposes, and
 * the library functions that allocate through them, with a deterministic output: the
 * real-program suite (Tests/IntegrationTests/RealProgramTests.swift) compares its
 * counts with valgrind's. Also issue 13's reallocarray loop: reallocarray(NULL, 10, 4)
 * grown by reallocarray(p, 1000, 4) and freed, 100 times (200 allocations, 200 frees,
 * 404,000 bytes under valgrind).
 *
 * No pvalloc: valgrind 3.19 aborts on it (known_counts pvalloc covers it without valgrind).
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

void *volatile g_sink;

__attribute__((noinline)) static void reallocarray_loop(void) {
    for (int i = 0; i < 100; i++) {
        int *a = reallocarray(NULL, 10, sizeof *a);
        a = reallocarray(a, 1000, sizeof *a);
        g_sink = a;
        free(a);
    }
}

__attribute__((noinline)) static void each_entry_point(void) {
    void *p = malloc(10);
    p = realloc(p, 100); /* grows */
    p = realloc(p, 50);  /* shrinks */
    free(p);
    g_sink = realloc(NULL, 30);
    free(g_sink);
    p = calloc(7, 9);
    free(p);
    void *a;
    if (posix_memalign(&a, 256, 300) != 0)
        abort();
    free(a);
    free(aligned_alloc(64, 128));
    free(memalign(4096, 10));
    free(valloc(100));
    free(strdup("a string of some length"));
    free(strndup("a string of some length", 5));
    free(wcsdup(L"wide"));
    char *s = NULL;
    if (asprintf(&s, "%d and %s", 42, "text") < 0)
        abort();
    free(s);
    char *path = realpath("/", NULL);
    free(path);
    size_t n = 0;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &n);
    for (int i = 0; i < 1000; i++)
        fprintf(f, "line %d\n", i);
    fclose(f);
    free(buf);
    free(NULL);
    g_sink = malloc(0);
    free(g_sink);
    /* realloc(p, 0) frees p (glibc). */
    p = malloc(20);
    g_sink = realloc(p, 0);
    free(g_sink);
    /* One block kept (still reachable) and one lost. */
    g_sink = malloc(1234);
    (void)malloc(4321);
}

int main(void) {
    reallocarray_loop();
    each_entry_point();
    /* Unbuffered, so stdio keeps no buffer of its own. */
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("entry points done\n");
    return 0;
}
