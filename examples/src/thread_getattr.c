/*
 * thread_getattr — threads whose first allocation happens inside glibc's
 * pthread_getattr_np, which holds the thread's lock while it allocates (as Rust's std
 * and the JVM do at every thread's start): the test input for thread set-up that must
 * not take that lock again (Tests/IntegrationTests/HostSafetyTests.swift).
 *
 * Four threads each ask for their own attributes, then malloc and free one block; the
 * main thread asks for its own (glibc reads /proc/self/maps for it) before it starts
 * them. Prints "ok" and each stack's size class.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static size_t stack_size(void) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 0;
    size_t size = 0;
    void *addr;
    pthread_attr_getstack(&attr, &addr, &size);
    pthread_attr_destroy(&attr);
    return size;
}

static void *run(void *arg) {
    size_t *out = arg;
    *out = stack_size();
    void *p = malloc(10);
    free(p);
    return NULL;
}

int main(void) {
    size_t main_size = stack_size(), sizes[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, run, &sizes[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    int known = main_size > 0;
    for (int i = 0; i < 4; i++)
        known &= sizes[i] > 0;
    printf("ok %s\n", known ? "stacks known" : "a stack unknown");
    return 0;
}
