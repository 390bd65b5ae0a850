/*
 * leaks_xor — pointers a scanner cannot see. A pointer kept only xor-ed with a
 * constant (as in xor-linked lists or pointer mangling) looks like no pointer, so its
 * block is definitely lost although the program could still reach it; a tagged pointer
 * (low bit set) is an interior pointer, so its block is only possibly lost. (Halves of
 * a pointer kept apart would not do: under valgrind heap addresses fit in 32 bits.)
 *
 *   g_hidden           -> 500 bytes, xor-ed                      definite
 *   g_hidden_list      -> list of 3 nodes (520, 40, 40), xor-ed  1 definite, 2 indirect
 *   g_tagged           -> 540 bytes, pointer | 1                 possible
 *   g_swapped          -> 560 bytes, bytes reversed              definite
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 1,580 bytes in 3 blocks
 *   indirectly lost: 80 bytes in 2 blocks
 *     possibly lost: 540 bytes in 1 blocks
 *   still reachable: 0 bytes in 0 blocks
 */
#include "leaks_common.h"
#include <stdint.h>

#define LEAKS_XOR_KEY ((uintptr_t)0x5a5a5a5a5a5a5a5aULL)

volatile uintptr_t g_hidden;
volatile uintptr_t g_hidden_list;
volatile uintptr_t g_tagged;
volatile uint64_t g_swapped;

__attribute__((noinline)) static void hide(void) {
    g_hidden = (uintptr_t)leaks_alloc(500) ^ LEAKS_XOR_KEY;

    void **head = leaks_alloc(520);
    void **second = leaks_alloc(40);
    second[0] = leaks_alloc(40);
    head[0] = second;
    g_hidden_list = (uintptr_t)head ^ LEAKS_XOR_KEY;

    g_tagged = (uintptr_t)leaks_alloc(540) | 1;

    g_swapped = __builtin_bswap64((uint64_t)(uintptr_t)leaks_alloc(560));
}

int main(void) {
    hide();
    leaks_scrub_stack();
    return 0;
}
