/*
 * leaks_cycle — cycles. In a cycle of lost blocks no block is pointed to from outside,
 * so memcheck makes the lowest-addressed block of the cycle "definite" and the rest
 * "indirect"; which block is lowest depends on the allocator, so the blocks of each
 * cycle share one size and the totals do not depend on it. A block pointing only to
 * itself is definitely lost; a cycle reachable from a global is still reachable.
 *
 *   lost 2-cycle:       A <-> B, 256 bytes each           1 definite, 1 indirect
 *   lost 3-cycle+tail:  C -> D -> E -> C, 128 bytes each;
 *                       E -> T (144 bytes)                1 definite, 3 indirect
 *   lost self-loop:     S -> S, 272 bytes                 definite
 *   kept cycle:         g_cycle -> X <-> Y, 288 and 304   reachable
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 656 bytes in 3 blocks
 *   indirectly lost: 656 bytes in 4 blocks
 *     possibly lost: 0 bytes in 0 blocks
 *   still reachable: 592 bytes in 2 blocks
 */
#include "leaks_common.h"

void **volatile g_cycle;

__attribute__((noinline)) static void lose_cycles(void) {
    void **a = leaks_alloc(256);
    void **b = leaks_alloc(256);
    a[0] = b;
    b[0] = a;

    void **c = leaks_alloc(128);
    void **d = leaks_alloc(128);
    void **e = leaks_alloc(128);
    c[0] = d;
    d[0] = e;
    e[0] = c;
    e[1] = leaks_alloc(144);

    void **s = leaks_alloc(272);
    s[0] = s;
    leaks_escape(a);
    leaks_escape(c);
    leaks_escape(s);
}

__attribute__((noinline)) static void keep_cycle(void) {
    void **x = leaks_alloc(288);
    void **y = leaks_alloc(304);
    x[0] = y;
    y[0] = x;
    g_cycle = x;
}

int main(void) {
    lose_cycles();
    keep_cycle();
    leaks_scrub_stack();
    return 0;
}
