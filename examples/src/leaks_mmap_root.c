/*
 * leaks_mmap_root — a block whose only pointer lives in memory the program mapped
 * itself (an anonymous mmap, as custom arenas and language runtimes use). memcheck
 * scans every writable client mapping, so the block is still reachable; LeakSanitizer
 * scans only modules' data, stacks and TLS, and calls it definitely lost. The oracle
 * follows memcheck. A block pointed to from a region that was unmapped again is lost.
 *
 *   anonymous mapping -> 3,100 bytes      reachable (memcheck)
 *   unmapped region   -> 3,200 bytes      definite
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 3,200 bytes in 1 blocks
 *   indirectly lost: 0 bytes in 0 blocks
 *     possibly lost: 0 bytes in 0 blocks
 *   still reachable: 3,100 bytes in 1 blocks
 */
#include "leaks_common.h"
#include <sys/mman.h>

enum { REGION = 1 << 16 };

void *volatile g_region;

__attribute__((noinline)) static void *map_region(void) {
    void *region = mmap(NULL, REGION, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (region == MAP_FAILED)
        abort();
    return region;
}

__attribute__((noinline)) static void keep_in_mapping(void) {
    void **region = map_region();
    region[100] = leaks_alloc(3100);
    g_region = region;

    void **gone = map_region();
    gone[100] = leaks_alloc(3200);
    munmap(gone, REGION);
}

int main(void) {
    keep_in_mapping();
    leaks_scrub_stack();
    return 0;
}
