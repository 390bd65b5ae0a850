/* leaks_strtok — a program's block that glibc points into: a strdup'd line, split
 * with strtok, whose only pointer is then dropped. strtok keeps its place in the line
 * (a pointer into the block) in libc's own data, so valgrind calls the 64-byte block
 * possibly lost; it is the program's (strdup's caller is the program), so memprof's
 * rule for glibc's own blocks must not make it reachable. */
#include "leaks_common.h"

__attribute__((noinline)) static void split_and_drop(void) {
    char *line = strdup("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda");
    if (!line)
        abort();
    leaks_escape(strtok(line, " "));
    leaks_escape(strtok(NULL, " "));
}

int main(void) {
    split_and_drop();
    leaks_scrub_stack();
    return 0;
}
