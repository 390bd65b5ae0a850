/* plugin — a shared library that dlopen_main loads at run time. */
#include <stdlib.h>

void *volatile g_plugin_sink;

__attribute__((noinline)) void plugin_leak(void) { g_plugin_sink = malloc(3333); }
