/*
 * odd_stacks — allocations where a simple unwinder goes wrong:
 *   - on a makecontext() user stack (outside the thread's stack): leaks 111 bytes
 *     from on_user_stack();
 *   - in signal handlers, once on an alternate signal stack and once on the normal
 *     stack, where the unwind crosses the kernel's signal frame: each leaks 222 bytes
 *     from handler().
 * No stdio: the known leaks are the only ones besides the two stacks it mallocs.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>

static ucontext_t g_main_ctx, g_co_ctx;
void *volatile g_sink;

__attribute__((noinline)) void on_user_stack(void) {
    for (int i = 0; i < 100; i++) {
        g_sink = malloc(32);
        free(g_sink);
    }
    g_sink = malloc(111);
    swapcontext(&g_co_ctx, &g_main_ctx);
}

__attribute__((noinline)) static void handler(int sig) {
    (void)sig;
    g_sink = malloc(222);
}

int main(void) {
    /* The signal mask is inherited: whoever started us may have blocked these. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    size_t size = 256 * 1024;
    char *stack = malloc(size);
    getcontext(&g_co_ctx);
    g_co_ctx.uc_stack.ss_sp = stack;
    g_co_ctx.uc_stack.ss_size = size;
    g_co_ctx.uc_link = &g_main_ctx;
    makecontext(&g_co_ctx, on_user_stack, 0);
    swapcontext(&g_main_ctx, &g_co_ctx);

    stack_t alt = {.ss_sp = malloc(64 * 1024), .ss_size = 64 * 1024};
    sigaltstack(&alt, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    sa.sa_flags = 0;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    return 0;
}
