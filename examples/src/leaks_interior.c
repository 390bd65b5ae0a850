/*
 * leaks_interior — interior pointers. A root holding only a pointer into the middle
 * of a block makes it possibly lost, and so is everything reached only through a
 * possibly lost block, even by start pointers. A lost block's interior pointer makes
 * its target indirectly lost, like a start pointer would. Interior offsets avoid 8
 * and 24, where memcheck's heuristics (newarray, length64, stdstring) would look.
 *
 *   g_inside  -> A (160 bytes) + 40                       A possible
 *   g_root    -> R (24 bytes) -> B (176 bytes) + 48       R reachable, B possible
 *                                B -> C (192 bytes)       C possible (start pointer,
 *                                                         but from a possible block)
 *   lost D (208 bytes) -> E (224 bytes) + 100             D definite, E indirect
 *   main's stack -> F (240 bytes) + 16                    F possible (stack root)
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 208 bytes in 1 blocks
 *   indirectly lost: 224 bytes in 1 blocks
 *     possibly lost: 768 bytes in 4 blocks
 *   still reachable: 24 bytes in 1 blocks
 */
#include "leaks_common.h"

char *volatile g_inside;
void **volatile g_root;

__attribute__((noinline)) static void point_inside(void) {
    g_inside = (char *)leaks_alloc(160) + 40;
    void **r = leaks_alloc(24);
    void **b = leaks_alloc(176);
    b[0] = leaks_alloc(192);
    r[0] = (char *)b + 48;
    g_root = r;
}

__attribute__((noinline)) static void lose_with_interior_link(void) {
    void **d = leaks_alloc(208);
    d[0] = (char *)leaks_alloc(224) + 100;
    leaks_escape(d);
}

/* Returns a pointer 16 bytes into a fresh 240-byte block. */
__attribute__((noinline)) static char *inside_new_block(void) { return (char *)leaks_alloc(240) + 16; }

int main(void) {
    point_inside();
    lose_with_interior_link();
    /* Kept in main's frame, live until the end because main calls exit (returning
     * would pop the frame before the scan). */
    char *volatile on_stack = inside_new_block();
    leaks_scrub_stack();
    leaks_escape((void *)&on_stack);
    exit(0);
}
