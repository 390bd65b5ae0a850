/* An allocator linked in statically (the build links libjemalloc.a, or defines a
 * prefixed entry point itself, as Rust's jemallocator and mimalloc do): the preload
 * sees none of these allocations, and memprof must say so rather than report
 * nothing. Prints "done" and exits 0. */
#include <stdio.h>
#include <stdlib.h>

void *volatile sink;

#ifdef PREFIXED
/* A prefixed allocator's entry point, as mimalloc's mi_malloc: the program's own
 * allocations go through it, never through malloc. */
void *mi_malloc(size_t size) { return calloc(1, size); }
#define ALLOC mi_malloc
#else
#define ALLOC malloc
#endif

int main(void) {
    for (int i = 0; i < 100; i++) {
        sink = ALLOC(100);
        free(sink);
    }
    sink = ALLOC(64);
    puts("done");
    return 0;
}
