/*
 * heap_layout — prints where its blocks land in the heap, relative to its first one:
 * the test input showing that memprof's own allocations leave the program's heap
 * alone (Tests/IntegrationTests/PreloadLibraryTests.swift). Run bare and under
 * memprof, the output must be the same.
 *
 * The main thread and a second thread (whose arena starts empty) each allocate 40
 * blocks of mixed sizes, free every third, then allocate 20 more, and print each
 * block's offset from their first block.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static void allocate_and_print(const char *who) {
    void *blocks[60];
    for (int i = 0; i < 40; i++)
        blocks[i] = malloc((size_t)(16 + (i * 37) % 500));
    for (int i = 0; i < 40; i += 3) {
        free(blocks[i]);
        blocks[i] = NULL;
    }
    for (int i = 40; i < 60; i++)
        blocks[i] = calloc(1, (size_t)(24 + (i * 53) % 300));
    uintptr_t base = (uintptr_t)blocks[1];
    printf("%s", who);
    for (int i = 0; i < 60; i++)
        if (blocks[i])
            printf(" %ld", (long)((intptr_t)blocks[i] - (intptr_t)base));
    printf("\n");
    for (int i = 0; i < 60; i++)
        free(blocks[i]);
}

static void *thread_main(void *arg) {
    (void)arg;
    allocate_and_print("thread");
    return NULL;
}

int main(void) {
    allocate_and_print("main");
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0)
        return 1;
    pthread_join(t, NULL);
    return 0;
}
