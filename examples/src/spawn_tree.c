/*
 * spawn_tree PROGRAM — the ways a process starts another: fork (the child allocates 30
 * blocks of 50 bytes, frees 10 of the parent's and exits), fork + execv(PROGRAM), and
 * posix_spawn(PROGRAM). The parent keeps 20 blocks of 100 bytes (still reachable),
 * waits for each child in turn and prints their exit statuses. Run with
 * `memprof run --follow-exec -o t.%p.mprof`, every process has a trace; under valgrind
 * --trace-children=yes, a log.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static void *volatile g_parent[20];
static void *volatile g_child[30];

static int wait_for(pid_t pid) {
    int status = 0;
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    for (int i = 0; i < 20; i++)
        g_parent[i] = malloc(100);
    fflush(stdout);

    pid_t forked = fork();
    if (forked == 0) {
        for (int i = 0; i < 30; i++)
            g_child[i] = malloc(50);
        for (int i = 0; i < 10; i++)
            free(g_parent[i]);
        _exit(0);
    }
    int forked_status = wait_for(forked);

    pid_t execed = fork();
    if (execed == 0) {
        char *args[] = {argv[1], NULL};
        execv(argv[1], args);
        _exit(127);
    }
    int execed_status = wait_for(execed);

    pid_t spawned;
    char *args[] = {argv[1], NULL};
    int spawn_error = posix_spawn(&spawned, argv[1], NULL, NULL, args, environ);
    int spawned_status = spawn_error == 0 ? wait_for(spawned) : -spawn_error;

    printf("fork %d, fork+exec %d, posix_spawn %d\n", forked_status, execed_status, spawned_status);
    return 0;
}
