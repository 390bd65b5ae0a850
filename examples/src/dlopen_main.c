/*
 * dlopen_main PLUGIN — dlopens PLUGIN (libplugin.so), calls plugin_leak (one
 * leaked 3333-byte block allocated inside the plugin), and keeps the plugin loaded
 * so its frames can be symbolized from the module map written after the dlopen.
 */
#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 1;
    }
    void (*leak)(void) = (void (*)(void))dlsym(h, "plugin_leak");
    if (!leak)
        return 1;
    leak();
    return 0;
}
