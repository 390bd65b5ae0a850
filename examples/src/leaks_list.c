/*
 * leaks_list — a singly linked list whose head pointer is dropped: the head is
 * definitely lost, every other node only indirectly (reached from the lost head).
 * A second list stays in a global as a control: all its nodes are still reachable.
 *
 *   lost list:      head 64 bytes, then 9 nodes of 48 bytes
 *   kept list:      g_kept -> 5 nodes of 56 bytes
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 64 bytes in 1 blocks
 *   indirectly lost: 432 bytes in 9 blocks
 *     possibly lost: 0 bytes in 0 blocks
 *   still reachable: 280 bytes in 5 blocks
 */
#include "leaks_common.h"

enum { LOST_NODES = 10, KEPT_NODES = 5 };

struct node {
    struct node *next;
};

struct node *volatile g_kept;

/* Builds a list of `count` nodes whose first node has `head_size` bytes and the others
 * `node_size`, and returns its head. */
__attribute__((noinline)) static struct node *build_list(int count, size_t head_size, size_t node_size) {
    struct node *head = NULL;
    for (int i = count - 1; i >= 0; i--) {
        struct node *n = leaks_alloc(i == 0 ? head_size : node_size);
        n->next = head;
        head = n;
    }
    leaks_escape(head);
    return head;
}

__attribute__((noinline)) static void lose_list(void) { leaks_escape(build_list(LOST_NODES, 64, 48)); }

__attribute__((noinline)) static void keep_list(void) { g_kept = build_list(KEPT_NODES, 56, 56); }

int main(void) {
    lose_list();
    keep_list();
    leaks_scrub_stack();
    return 0;
}
