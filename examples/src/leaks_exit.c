/*
 * leaks_exit [MODE] — leaks of every kind, then ends by MODE without freeing:
 *   _exit (default), _Exit, exit, return (from main), or syscall (a raw exit_group
 *   that no libc function sees). _exit and _Exit skip atexit handlers and
 *   destructors, so a scan that runs only there would find nothing.
 *
 *   lost list:   head 800 bytes -> 2 nodes of 80 bytes    1 definite, 2 indirect
 *   g_kept       -> 820 bytes                              reachable
 *   g_inside     -> 840-byte block + 100                   possible
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no),
 * the same for every MODE:
 *   definitely lost: 800 bytes in 1 blocks
 *   indirectly lost: 160 bytes in 2 blocks
 *     possibly lost: 840 bytes in 1 blocks
 *   still reachable: 820 bytes in 1 blocks
 */
#include "leaks_common.h"
#include <sys/syscall.h>
#include <unistd.h>

void *volatile g_kept;
char *volatile g_inside;

__attribute__((noinline)) static void leak(void) {
    void **head = leaks_alloc(800);
    void **next = leaks_alloc(80);
    next[0] = leaks_alloc(80);
    head[0] = next;
    leaks_escape(head);
    g_kept = leaks_alloc(820);
    g_inside = (char *)leaks_alloc(840) + 100;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "_exit";
    leak();
    leaks_scrub_stack();
    if (strcmp(mode, "_exit") == 0)
        _exit(0);
    if (strcmp(mode, "_Exit") == 0)
        _Exit(0);
    if (strcmp(mode, "exit") == 0)
        exit(0);
    if (strcmp(mode, "syscall") == 0)
        syscall(SYS_exit_group, 0);
    if (strcmp(mode, "return") == 0)
        return 0;
    return 2;
}
