/*
 * cross_free [ROUNDS] — 8 threads in a ring; each allocates ROUNDS batches of 64 blocks
 * and hands every batch to the next thread, which frees it. Every block is freed by
 * another thread than the one that allocated it. Allocations = frees = 8 * ROUNDS * 64;
 * nothing leaks. The hand-over is a one-slot mailbox per thread under a mutex, so the
 * counts are exact whatever the scheduling.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS 8
#define BATCH 64

struct mailbox {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    void **batch; /* NULL when empty */
};

static struct mailbox g_boxes[THREADS];
static long g_rounds = 2000;

static void put(struct mailbox *box, void **batch) {
    pthread_mutex_lock(&box->lock);
    while (box->batch)
        pthread_cond_wait(&box->changed, &box->lock);
    box->batch = batch;
    pthread_cond_broadcast(&box->changed);
    pthread_mutex_unlock(&box->lock);
}

static void **take(struct mailbox *box) {
    pthread_mutex_lock(&box->lock);
    while (!box->batch)
        pthread_cond_wait(&box->changed, &box->lock);
    void **batch = box->batch;
    box->batch = NULL;
    pthread_cond_broadcast(&box->changed);
    pthread_mutex_unlock(&box->lock);
    return batch;
}

static void *worker(void *arg) {
    long self = (long)arg;
    struct mailbox *next = &g_boxes[(self + 1) % THREADS];
    for (long round = 0; round < g_rounds; round++) {
        /* The batch array and its blocks are the next thread's to free. */
        void **batch = malloc(BATCH * sizeof *batch);
        for (int i = 0; i < BATCH; i++)
            batch[i] = malloc((size_t)(16 + ((self * 31 + i * 7 + round) % 512)));
        put(next, batch);
        void **mine = take(&g_boxes[self]);
        for (int i = 0; i < BATCH; i++)
            free(mine[i]);
        free(mine);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc > 1)
        g_rounds = atol(argv[1]);
    for (int i = 0; i < THREADS; i++) {
        pthread_mutex_init(&g_boxes[i].lock, NULL);
        pthread_cond_init(&g_boxes[i].changed, NULL);
    }
    pthread_t threads[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&threads[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    printf("%d threads, %ld rounds of %d blocks each, every one freed by its neighbour\n", THREADS, g_rounds, BATCH);
    return 0;
}
