/*
 * leaks_globals — blocks kept by globals: still reachable, whatever kind of global
 * holds the start pointer, and so is what a reachable block points to. A static
 * pointer to the middle of a block makes it only possibly lost.
 *
 *   g_bss          -> 100 bytes       reachable (.bss)
 *   g_data         -> 200 bytes       reachable (.data: initialized non-null)
 *   s_local        -> 300 bytes       reachable (function-local static)
 *   g_table[4]     -> 4 x 120 bytes   reachable (array of pointers)
 *   g_bss -> block -> 400 bytes       reachable (through a reachable block)
 *   g_middle       -> 500-byte block + 200   possibly lost
 *   g_last_byte    -> 600-byte block + 599   possibly lost (interior, last byte)
 *   g_past_end     -> 700-byte block + 700   definitely lost (one past the end is no
 *                                            pointer into the block)
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 700 bytes in 1 blocks
 *   indirectly lost: 0 bytes in 0 blocks
 *     possibly lost: 1,100 bytes in 2 blocks
 *   still reachable: 1,480 bytes in 8 blocks
 */
#include "leaks_common.h"

static char g_placeholder;

void **volatile g_bss;
void *volatile g_data = &g_placeholder;
void *volatile g_table[4];
char *volatile g_middle;
char *volatile g_last_byte;
char *volatile g_past_end;

__attribute__((noinline)) static void keep_in_local_static(void) {
    __attribute__((used)) static void *volatile s_local;
    s_local = leaks_alloc(300);
}

__attribute__((noinline)) static void keep(void) {
    void **block = leaks_alloc(100);
    block[3] = leaks_alloc(400);
    g_bss = block;
    g_data = leaks_alloc(200);
    keep_in_local_static();
    for (int i = 0; i < 4; i++)
        g_table[i] = leaks_alloc(120);
}

__attribute__((noinline)) static void point_inside(void) {
    g_middle = (char *)leaks_alloc(500) + 200;
    g_last_byte = (char *)leaks_alloc(600) + 599;
    g_past_end = (char *)leaks_alloc(700) + 700;
}

int main(void) {
    keep();
    point_inside();
    leaks_scrub_stack();
    return 0;
}
