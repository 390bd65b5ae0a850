/*
 * leaks_edges — corner cases of what a block is and what points to it.
 *
 *   g_zero      -> malloc(0)                               reachable, 0 bytes
 *   lost           malloc(0)                               definite, 0 bytes
 *   g_calloc    -> calloc(10, 11)                          reachable, 110 bytes
 *   g_grown     -> realloc(malloc(16), 1,000)              reachable, 1,000 bytes
 *   lost           realloc(malloc(2,000), 20)              definite, 20 bytes
 *   g_aligned   -> aligned_alloc(64, 640)                  reachable
 *   g_memalign  -> posix_memalign(4096, 300) + 100         possible (interior)
 *   lost           memalign(256, 330), valloc(340)         definite
 *   lost           reallocarray(NULL, 7, 50)               definite, 350 bytes
 *   g_holder    -> freed block whose stale contents point
 *                  to 360 bytes                            definite (freed memory is
 *                                                          no root and no block)
 *   g_one_word  -> malloc(8), holding a pointer to 370     reachable, both
 *   g_unaligned -> a pointer to 380 bytes stored at an
 *                  odd address of a global                 definite (scanners read
 *                                                          aligned words only)
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 1,780 bytes in 7 blocks
 *   indirectly lost: 0 bytes in 0 blocks
 *     possibly lost: 300 bytes in 1 blocks
 *   still reachable: 2,128 bytes in 6 blocks
 */
#define _GNU_SOURCE
#include "leaks_common.h"
#include <malloc.h>
#include <stdint.h>

void *volatile g_zero;
void *volatile g_calloc;
void *volatile g_grown;
void *volatile g_aligned;
char *volatile g_memalign;
void **volatile g_holder;
void **volatile g_one_word;
/* Byte 1 of this buffer starts an unaligned 8-byte slot. */
_Alignas(8) volatile unsigned char g_unaligned[16];

__attribute__((noinline)) static void allocators(void) {
    g_zero = malloc(0);
    leaks_escape(malloc(0));
    g_calloc = calloc(10, 11);
    g_grown = realloc(leaks_alloc(16), 1000);
    leaks_escape(realloc(leaks_alloc(2000), 20));
    g_aligned = aligned_alloc(64, 640);
    void *p = NULL;
    if (posix_memalign(&p, 4096, 300) != 0)
        abort();
    g_memalign = (char *)p + 100;
    leaks_escape(memalign(256, 330));
    leaks_escape(valloc(340));
    leaks_escape(reallocarray(NULL, 7, 50));
}

__attribute__((noinline)) static void stale_and_odd(void) {
    void **holder = leaks_alloc(64);
    holder[4] = leaks_alloc(360);
    g_holder = holder;
    free(holder);

    void **one_word = leaks_alloc(8);
    one_word[0] = leaks_alloc(370);
    g_one_word = one_word;

    uintptr_t p = (uintptr_t)leaks_alloc(380);
    for (int i = 0; i < 8; i++)
        g_unaligned[1 + i] = (unsigned char)(p >> (8 * i));
}

int main(void) {
    allocators();
    stale_and_odd();
    leaks_scrub_stack();
    return 0;
}
