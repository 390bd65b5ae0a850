/*
 * leaks_tree — two lost binary trees.
 *
 *   plain tree:   complete, depth 5 (31 nodes); root 96 bytes, other nodes 40 bytes.
 *                 Only the root is definitely lost, the 30 others indirectly.
 *   parent tree:  complete, depth 4 (15 nodes of 72 bytes) whose nodes also point to
 *                 their parent, so the lost nodes form cycles. memcheck makes the
 *                 lowest-addressed node of such a clique "definite" and the rest
 *                 "indirect"; which node that is depends on the allocator, so all
 *                 nodes have one size and the totals do not.
 *
 * Expected, and measured with valgrind 3.19 (--leak-check=full --show-leak-kinds=all
 * --leak-check-heuristics=none --default-suppressions=no --run-libc-freeres=no):
 *   definitely lost: 168 bytes in 2 blocks
 *   indirectly lost: 2,208 bytes in 44 blocks
 *     possibly lost: 0 bytes in 0 blocks
 *   still reachable: 0 bytes in 0 blocks
 */
#include "leaks_common.h"

struct tree {
    struct tree *left, *right, *parent;
};

/* A complete tree of `depth` levels below `parent`, all nodes `node_size` bytes, or the
 * root `root_size` bytes when `parent` is NULL. Links children to parents when asked. */
__attribute__((noinline)) static struct tree *build_tree(int depth, struct tree *parent, size_t root_size,
                                                         size_t node_size, int link_parents) {
    if (depth == 0)
        return NULL;
    struct tree *t = leaks_alloc(parent == NULL ? root_size : node_size);
    t->parent = link_parents ? parent : NULL;
    t->left = build_tree(depth - 1, t, root_size, node_size, link_parents);
    t->right = build_tree(depth - 1, t, root_size, node_size, link_parents);
    leaks_escape(t);
    return t;
}

__attribute__((noinline)) static void lose_trees(void) {
    leaks_escape(build_tree(5, NULL, 96, 40, 0));
    leaks_escape(build_tree(4, NULL, 72, 72, 1));
}

int main(void) {
    lose_trees();
    leaks_scrub_stack();
    return 0;
}
