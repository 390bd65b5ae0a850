/* local_cxx_host — a C program that loads a C++ library with RTLD_LOCAL (see
 * cxx_plugin.cpp) and calls it: under memprof the library's operator new must reach
 * libstdc++'s, which only the plugin's own scope holds. Prints "100". */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    (void)argc;
    char path[4096];
    const char *slash = strrchr(argv[0], '/');
    snprintf(path, sizeof path, "%.*slibcxx_plugin.so", slash ? (int)(slash - argv[0] + 1) : 0, argv[0]);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        fprintf(stderr, "%s\n", dlerror());
        return 1;
    }
    int (*work)(void) = (int (*)(void))dlsym(handle, "cxx_plugin_work");
    printf("%d\n", work());
    /* No dlclose, as python never unloads an extension: memprof keeps the C++ runtime
     * it found this way loaded (it holds a pointer into it), so a dlclose would unload
     * less than without memprof. */
    return 0;
}
