/*
 * leak_ignore — memprof_ignore_object, the LeakSanitizer-style "not a leak" call.
 *
 * Two lost blocks of 48 bytes, each holding the only pointer to a 24-byte child.
 * The program tells memprof to ignore the first one (looked up at run time, so the
 * program also runs without memprof). Under `memprof run` the leak check then sees
 * the ignored block and its child as still reachable, and the other pair as lost:
 * 48 bytes definitely lost, 24 indirectly lost, 72 still reachable.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>

struct pair {
    void *child;
    char pad[40];
};

/* Returns the address of a new pair, disguised, so that no plain copy of it stays
 * on the stack or in a register. */
__attribute__((noinline)) static unsigned long make_pair(void) {
    struct pair *p = malloc(sizeof *p);
    p->child = malloc(24);
    return (unsigned long)p ^ 0xa5a5a5a5a5a5a5a5ul;
}

__attribute__((noinline)) static void scrub(void) {
    volatile char buf[16384];
    for (unsigned i = 0; i < sizeof buf; i++)
        buf[i] = 0;
}

int main(void) {
    int (*ignore)(const void *) = (int (*)(const void *))dlsym(RTLD_DEFAULT, "memprof_ignore_object");
    unsigned long kept = make_pair();
    (void)make_pair();
    if (ignore)
        ignore((void *)(kept ^ 0xa5a5a5a5a5a5a5a5ul));
    kept = 0;
    scrub();
    return ignore ? 0 : 3;
}
