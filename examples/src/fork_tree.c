/*
 * fork_tree — a process that forks (and optionally execs): the test input for traces
 * of process trees (Tests/IntegrationTests/ProcessTreeTests.swift).
 *
 *   fork_tree [exec PROGRAM]
 *
 * The parent keeps 10 blocks of 100 bytes (parent_alloc) and forks. The child
 * allocates 20 blocks of 200 bytes (child_alloc), frees 5 of the 10 it inherited,
 * loses one block of 300 bytes (child_leak), and exits 0 — or, with `exec PROGRAM`,
 * execs PROGRAM after that instead of exiting. The parent waits for it, allocates one
 * more block of 50 bytes (parent_after), and exits 0. Blocks are kept in globals
 * (still reachable) except the lost one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void *volatile g_parent[10];
static void *volatile g_child[20];
static void *volatile g_after;

__attribute__((noinline)) static void parent_alloc(void) {
    for (int i = 0; i < 10; i++)
        g_parent[i] = malloc(100);
}

__attribute__((noinline)) static void child_alloc(void) {
    for (int i = 0; i < 20; i++)
        g_child[i] = malloc(200);
}

__attribute__((noinline)) static void child_leak(void) {
    void *volatile lost = malloc(300);
    memset((void *)lost, 1, 300);
    lost = NULL;
}

int main(int argc, char **argv) {
    parent_alloc();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        child_alloc();
        for (int i = 0; i < 5; i++)
            free(g_parent[i]);
        child_leak();
        if (argc == 3 && strcmp(argv[1], "exec") == 0) {
            execl(argv[2], argv[2], (char *)NULL);
            _exit(127);
        }
        exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    g_after = malloc(50);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
