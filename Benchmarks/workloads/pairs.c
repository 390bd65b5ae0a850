/*
 * pairs — per-event cost: PAIRS malloc+free pairs on one thread at call depth 10.
 *   pairs [PAIRS=1000000]
 * Built -O2 without frame pointers.
 */
#include <stdlib.h>

void *volatile g_sink;

__attribute__((noinline)) static void leaf(void) {
    void *p = malloc(64);
    g_sink = p;
    free(p);
}

__attribute__((noinline)) static void level(int depth) {
    if (depth == 0)
        leaf();
    else
        level(depth - 1);
    __asm__ volatile("" ::: "memory");
}

int main(int argc, char **argv) {
    long pairs = argc > 1 ? atol(argv[1]) : 1000000;
    for (long i = 0; i < pairs; i++)
        level(8); /* main -> level x9 -> leaf: 10 frames below malloc */
    return 0;
}
