/*
 * dlopen_loop PLUGIN [N] — dlopens PLUGIN (libplugin.so), calls its plugin_churn, and
 * dlcloses it, N times (default 200): the dynamic loader's own allocations for each
 * load and unload, and frames in a module that comes and goes.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    int n = argc > 2 ? atoi(argv[2]) : 200;
    long total = 0;
    for (int i = 0; i < n; i++) {
        void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            fprintf(stderr, "dlopen: %s\n", dlerror());
            return 1;
        }
        long (*churn)(int) = (long (*)(int))dlsym(h, "plugin_churn");
        if (!churn)
            return 1;
        total += churn(i);
        if (dlclose(h) != 0) {
            fprintf(stderr, "dlclose: %s\n", dlerror());
            return 1;
        }
    }
    printf("%d loads, total %ld\n", n, total);
    return 0;
}
