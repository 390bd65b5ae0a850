/* leaks_exec — a program whose heap ends in an exec: 10 blocks of 100 bytes, still
 * pointed to, and one of 200 bytes whose pointer is dropped, then execv of
 * /bin/true. The exec replaces the image and its heap: nothing leaked (valgrind,
 * which does not follow the exec, reports no leak summary for the old image), and
 * `memprof check` with allowed_leak_bytes = 0 passes. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *volatile g_kept[10];

int main(void) {
    for (int i = 0; i < 10; i++) {
        g_kept[i] = malloc(100);
        memset(g_kept[i], 'k', 100);
    }
    char *volatile lost = malloc(200);
    lost = NULL;
    (void)lost;
    char *argv[] = {"true", NULL};
    execv("/bin/true", argv);
    return 1;
}
