/*
 * exit_modes MODE [STATUS] — leaks one 777-byte block, then ends by MODE:
 *   return  (from main), exit, _exit, _Exit.
 * Also echoes stdin to stdout, so tests can check that I/O passes through.
 * Exits with STATUS (default 0).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *volatile g_sink;

__attribute__((noinline)) void leak_777(void) { g_sink = malloc(777); }

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "return";
    int status = argc > 2 ? atoi(argv[2]) : 0;
    leak_777();
    char buf[4096];
    ssize_t n;
    while ((n = read(0, buf, sizeof buf)) > 0)
        if (write(1, buf, (size_t)n) != n)
            return 3;
    if (strcmp(mode, "exit") == 0)
        exit(status);
    if (strcmp(mode, "_exit") == 0)
        _exit(status);
    if (strcmp(mode, "_Exit") == 0)
        _Exit(status);
    return status;
}
