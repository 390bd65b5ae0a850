/*
 * sized_sites — three allocation sites of known sizes, for checking sample mode's
 * estimates against a full recording (Tests/IntegrationTests/SamplingTests.swift).
 *   sized_sites [SMALL=1000000] [PAGE=16000] [HUGE=64]
 * Makes SMALL blocks of 64 B, PAGE blocks of 4 KiB and HUGE blocks of 1 MiB, each from
 * its own function, interleaved, each freed at once; touches each block so that the
 * calls are not optimized away.
 */
#include <stdlib.h>
#include <string.h>

static volatile unsigned char g_sink;

__attribute__((noinline)) static void small_block(void) {
    unsigned char *p = malloc(64);
    p[0] = 1;
    g_sink += p[0];
    free(p);
}

__attribute__((noinline)) static void page_block(void) {
    unsigned char *p = malloc(4096);
    p[0] = 2;
    g_sink += p[0];
    free(p);
}

__attribute__((noinline)) static void huge_block(void) {
    unsigned char *p = malloc(1 << 20);
    p[0] = 3;
    g_sink += p[0];
    free(p);
}

int main(int argc, char **argv) {
    long small = argc > 1 ? atol(argv[1]) : 1000000;
    long page = argc > 2 ? atol(argv[2]) : 16000;
    long huge = argc > 3 ? atol(argv[3]) : 64;
    long most = small > page ? small : page;
    most = most > huge ? most : huge;
    /* Interleaved: each kind spread evenly over the run. */
    for (long i = 0; i < most; i++) {
        if (i < small)
            small_block();
        if (i * page / most < (i + 1) * page / most)
            page_block();
        if (i * huge / most < (i + 1) * huge / most)
            huge_block();
    }
    return 0;
}
