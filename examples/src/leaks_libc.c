/*
 * leaks_libc — blocks glibc itself keeps at exit, which both valgrind and memprof's
 * preload see (they replace malloc for libc too), plus one definite leak of the
 * program's own (4,321 bytes) so the output is not only libc's.
 *
 *   printf to stdout             stdout's buffer, reachable from libc's data
 *   fopen without fclose         the FILE and its buffer, reachable (_IO_list_all)
 *   dlopen of a missing library  the error message, kept for dlerror in libc's TLS
 *   localtime                    the time zone data tzset keeps in libc's globals
 *   setlocale(LC_ALL, "C.UTF-8") the locale data
 *
 * The sizes depend on what stdout is (a pipe: 4,096 bytes of buffer) and on the
 * machine's time zone and locales, so the numbers below only hold for this machine's
 * /etc/localtime and locales, stdout a pipe, stdin /dev/null, TZ unset.
 *
 * Measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 4,321 bytes in 1 blocks
 *   indirectly lost: 0 bytes in 0 blocks
 *     possibly lost: 0 bytes in 0 blocks
 *   still reachable: 17,680 bytes in 143 blocks
 * (With valgrind's default --run-libc-freeres=yes libc frees most of it first: 472
 * bytes in 1 block, the FILE, stay reachable.) The dlerror state is 2 blocks, 24 and
 * 60 bytes, reachable from libc's TLS; any later successful dlsym frees them.
 */
#include "leaks_common.h"
#include <dlfcn.h>
#include <locale.h>
#include <stdio.h>
#include <time.h>

FILE *volatile g_file;

__attribute__((noinline)) static void use_libc(void) {
    setlocale(LC_ALL, "C.UTF-8");
    printf("leaks_libc\n");
    g_file = fopen("/proc/self/stat", "r");
    if (g_file != NULL)
        leaks_escape((void *)(long)fgetc(g_file));
    if (dlopen("libmemprof-does-not-exist.so", RTLD_NOW) != NULL)
        abort();
    time_t epoch = 0;
    leaks_escape(localtime(&epoch));
}

__attribute__((noinline)) static void drop(void) { leaks_escape(leaks_alloc(4321)); }

int main(void) {
    use_libc();
    drop();
    leaks_scrub_stack();
    fflush(stdout);
    return 0;
}
