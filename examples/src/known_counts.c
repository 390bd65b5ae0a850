/*
 * known_counts — a program whose allocations are known exactly (no stdio, so libc
 * allocates nothing behind our back). Integration tests and the README use it.
 *
 *   allocations   : 100 malloc + 10 calloc + 1 realloc(NULL) + 4 realloc + 1 reallocarray
 *                   + 1 posix_memalign + 1 aligned_alloc + 1 memalign + 1 valloc
 *                   + 3 strdup = 123
 *   deallocations : 100 (malloc'd) + 10 (calloc'd) + 4 (old blocks of the 4 reallocs)
 *                   + 1 (old block of reallocarray) + 1 (its result) + 4 (the aligned
 *                   ones) = 120
 *   bytes         : 6400 + 10240 + 16+32+64+128+256+512 + 100+256+48+10 + 7000 = 25062
 *   leaked        : 3 blocks made by leak_some(): 1000 + 2000 + 4000 = 7000 bytes
 *   temporaries   : frees of the thread's latest allocation: 100 (churn_small)
 *                   + 1 (the last calloc'd block) + 6 (grow_buffer: each resize and
 *                   the final free) + 1 (valloc'd block) = 108
 *
 * `known_counts pvalloc` also makes one pvalloc(20) and frees it (+1/+1, +20 bytes);
 * valgrind 3.19 aborts on pvalloc, so comparisons with valgrind run without it.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

void *volatile g_sink;

__attribute__((noinline)) void churn_small(void) {
    for (int i = 0; i < 100; i++) {
        void *p = malloc(64);
        g_sink = p;
        free(p);
    }
}

__attribute__((noinline)) void make_zeroed(void) {
    void *blocks[10];
    for (int i = 0; i < 10; i++)
        blocks[i] = calloc(4, 256); /* 1024 bytes each */
    for (int i = 0; i < 10; i++)
        free(blocks[i]);
}

__attribute__((noinline)) void grow_buffer(void) {
    char *p = realloc(NULL, 16); /* an allocation */
    for (int size = 32; size <= 256; size *= 2)
        p = realloc(p, (size_t)size); /* 4 reallocs: 32, 64, 128, 256 */
    p = reallocarray(p, 64, 8);       /* 512 bytes */
    g_sink = p;
    free(p);
}

__attribute__((noinline)) void aligned_kinds(void) {
    void *a;
    if (posix_memalign(&a, 64, 100) != 0)
        abort();
    void *b = aligned_alloc(128, 256);
    void *c = memalign(32, 48);
    void *d = valloc(10);
    free(a);
    free(b);
    free(c);
    free(d);
}

__attribute__((noinline)) void page_aligned(void) { free(pvalloc(20)); }

__attribute__((noinline)) void leak_some(void) {
    /* strdup of exact-length strings keeps the sizes exact. */
    static char s1[1000], s2[2000], s3[4000];
    memset(s1, 'a', sizeof s1 - 1);
    memset(s2, 'b', sizeof s2 - 1);
    memset(s3, 'c', sizeof s3 - 1);
    g_sink = strdup(s1);
    g_sink = strdup(s2);
    g_sink = strdup(s3);
    g_sink = NULL;
}

int main(int argc, char **argv) {
    churn_small();
    make_zeroed();
    grow_buffer();
    aligned_kinds();
    if (argc > 1 && strcmp(argv[1], "pvalloc") == 0)
        page_aligned();
    leak_some();
    return 0;
}
