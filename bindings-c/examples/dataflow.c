/* A dataflow job: each item drains its own shard of a queue, batch by
 * batch (`streaming.process` keeps fetching until a batch is empty). Two
 * instances share four items on the embedded registry (no server).
 *   make -C bindings-c/examples dataflow && bindings-c/examples/dataflow */
#include <elasticjob.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ITEMS 4
#define PER_ITEM 7

/* Orders waiting per item; callbacks run on library threads, several at once. */
static int queue[ITEMS][PER_ITEM];
static int queued[ITEMS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static int fetch(const ej_sharding_context *ctx, ej_items *items, void *user_data) {
    (void)user_data;
    pthread_mutex_lock(&lock);
    int *q = queue[ctx->sharding_item];
    int n = queued[ctx->sharding_item] < 3 ? queued[ctx->sharding_item] : 3;
    for (int i = 0; i < n; i++) {
        int *order = malloc(sizeof *order);
        *order = q[i];
        ej_items_push(items, order);
    }
    memmove(q, q + n, (size_t)(queued[ctx->sharding_item] - n) * sizeof *q);
    queued[ctx->sharding_item] -= n;
    pthread_mutex_unlock(&lock);
    return 0;
}

static int process(const ej_sharding_context *ctx, void *const *items, size_t count, void *user_data) {
    (void)user_data;
    char line[256];
    int used = snprintf(line, sizeof line, "item %u exported orders", ctx->sharding_item);
    for (size_t i = 0; i < count; i++) {
        used += snprintf(line + used, sizeof line - (size_t)used, " %d", *(int *)items[i]);
        free(items[i]);                /* the batch is ours now */
    }
    printf("%s\n", line);
    fflush(stdout);
    return 0;
}

static int left(void) {
    pthread_mutex_lock(&lock);
    int n = 0;
    for (int i = 0; i < ITEMS; i++) n += queued[i];
    pthread_mutex_unlock(&lock);
    return n;
}

int main(void) {
    for (int i = 0; i < ITEMS; i++) {
        for (int n = 0; n < PER_ITEM; n++) queue[i][n] = i * 100 + n;
        queued[i] = PER_ITEM;
    }
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *schedulers[2] = {NULL, NULL};
    if (ej_registry_embedded_new("examples", &registry) != EJ_OK ||
        ej_job_config_new("export-orders", "* * * * * ?", ITEMS, &config) != EJ_OK ||
        ej_job_config_set(config, "props.streaming.process", "true") != EJ_OK) {
        fprintf(stderr, "%s\n", ej_last_error());
        return 1;
    }
    for (int n = 0; n < 2; n++) {
        if (ej_scheduler_new_dataflow(registry, config, fetch, process, NULL, NULL, &schedulers[n]) != EJ_OK ||
            ej_scheduler_start(schedulers[n]) != EJ_OK) {
            fprintf(stderr, "%s\n", ej_last_error());
            return 1;
        }
    }
    for (int i = 0; i < 50 && left() > 0; i++) usleep(100 * 1000);
    for (int n = 0; n < 2; n++) ej_scheduler_free(schedulers[n]);
    ej_job_config_free(config);
    ej_registry_free(registry);
    printf("done: %d orders left\n", left());
    return 0;
}
