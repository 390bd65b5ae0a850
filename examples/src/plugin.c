/* plugin — a shared library that dlopen_main loads at run time. */
#include <stdlib.h>

void *volatile g_plugin_sink;

__attribute__((noinline)) void plugin_leak(void) { g_plugin_sink = malloc(3333); }

/* plugin_churn(i) — allocates and frees 10 blocks of the plugin's own (dlopen_loop). */
__attribute__((noinline)) long plugin_churn(int i) {
    long sum = 0;
    for (int k = 0; k < 10; k++) {
        char *p = malloc((size_t)(32 + i + k));
        p[0] = (char)k;
        sum += p[0];
        free(p);
    }
    return sum;
}
