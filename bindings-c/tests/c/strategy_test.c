/* Sharding strategies written in C, on a real ZooKeeper (argv[1]): one
 * decides who runs what across two schedulers; one that leaves an item
 * without an owner is reported as an error event and nothing runs; and
 * SINGLE_THREAD runs an instance's items one at a time.
 * Prints "N passed, 0 failed". */
#include "elasticjob.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static const char *zk;

/* Every item to the instance whose id ends in "-b". */
static int to_b(const char *const *instances, size_t count, uint32_t total, const char *job_name, int32_t *owners,
                void *user_data) {
    (void)job_name;
    int *calls = user_data;
    __sync_fetch_and_add(calls, 1);
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(instances[i]);
        if (len >= 2 && strcmp(instances[i] + len - 2, "-b") == 0) {
            for (uint32_t item = 0; item < total; item++) owners[item] = (int32_t)i;
            return 0;
        }
    }
    ej_set_failure_message("no instance ending in -b");
    return 1;
}

/* Gives item 0 to the first instance and leaves the others unowned. */
static int leaves_items_out(const char *const *instances, size_t count, uint32_t total, const char *job_name,
                            int32_t *owners, void *user_data) {
    (void)instances, (void)count, (void)total, (void)job_name, (void)user_data;
    owners[0] = 0;
    return 0;
}

/* Items run by one scheduler, and how many handlers were in flight at once. */
struct runs {
    pthread_mutex_t lock;
    int per_item[4];
    int in_flight;
    int most;
};

static int record(const ej_sharding_context *ctx, void *user_data) {
    struct runs *runs = user_data;
    pthread_mutex_lock(&runs->lock);
    runs->per_item[ctx->sharding_item]++;
    if (++runs->in_flight > runs->most) runs->most = runs->in_flight;
    pthread_mutex_unlock(&runs->lock);
    usleep(100 * 1000);
    pthread_mutex_lock(&runs->lock);
    runs->in_flight--;
    pthread_mutex_unlock(&runs->lock);
    return 0;
}

static void reset(struct runs *runs) {
    pthread_mutex_lock(&runs->lock);
    memset(runs->per_item, 0, sizeof runs->per_item);
    pthread_mutex_unlock(&runs->lock);
}

static int total_runs(struct runs *runs) {
    pthread_mutex_lock(&runs->lock);
    int total = runs->per_item[0] + runs->per_item[1] + runs->per_item[2] + runs->per_item[3];
    pthread_mutex_unlock(&runs->lock);
    return total;
}

TEST(a_c_strategy_decides_who_runs_what) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *a = NULL, *b = NULL;
    int calls = 0;
    struct runs runs_a = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0}, runs_b = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0};
    CHECK(ej_registry_zookeeper_new(zk, "c-strategy", 1500, &registry) == EJ_OK);
    CHECK(ej_job_config_new("custom", "* * * * * ?", 4, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "jobShardingStrategyType", "TO_B") == EJ_OK);
    CHECK(ej_job_config_set(config, "overwrite", "true") == EJ_OK);
    ej_sharding_strategy strategy = {"TO_B", to_b, &calls};
    ej_scheduler_options options_a = {.instance_id = "127.0.0.1@-@c-a", .sharding_strategies = &strategy, .sharding_strategy_count = 1};
    ej_scheduler_options options_b = {.instance_id = "127.0.0.1@-@c-b", .sharding_strategies = &strategy, .sharding_strategy_count = 1};
    CHECK(ej_scheduler_new_simple(registry, config, record, &runs_a, &options_a, &a) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, record, &runs_b, &options_b, &b) == EJ_OK);
    CHECK(ej_scheduler_start(a) == EJ_OK);
    CHECK(ej_scheduler_start(b) == EJ_OK);
    usleep(1500 * 1000);
    reset(&runs_a);
    reset(&runs_b);
    usleep(2500 * 1000);
    CHECK(ej_scheduler_shutdown(a) == EJ_OK);
    CHECK(ej_scheduler_shutdown(b) == EJ_OK);
    CHECK(calls >= 1);
    CHECK(total_runs(&runs_a) == 0);
    for (int item = 0; item < 4; item++) CHECK(runs_b.per_item[item] >= 1);
    ej_scheduler_free(a);
    ej_scheduler_free(b);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(a_wrong_answer_is_reported_and_nothing_runs) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct runs runs = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0};
    CHECK(ej_registry_zookeeper_new(zk, "c-strategy-bad", 1500, &registry) == EJ_OK);
    CHECK(ej_job_config_new("custom", "* * * * * ?", 2, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "jobShardingStrategyType", "HALF") == EJ_OK);
    ej_sharding_strategy strategy = {"HALF", leaves_items_out, NULL};
    ej_scheduler_options options = {.sharding_strategies = &strategy, .sharding_strategy_count = 1};
    CHECK(ej_scheduler_new_simple(registry, config, record, &runs, &options, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    int reported = 0;
    for (int waited = 0; waited < 3000; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_ERROR && event.message != NULL && strstr(event.message, "`HALF`") != NULL &&
            strstr(event.message, "left items [1] without an instance") != NULL)
            reported = 1;
        ej_event_clear(&event);
    }
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    CHECK(reported);
    CHECK(total_runs(&runs) == 0);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(a_null_strategy_function_or_an_unregistered_type_is_refused) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_embedded_new("c-strategy-args", &registry) == EJ_OK);
    CHECK(ej_job_config_new("custom", "", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "jobShardingStrategyType", "NOWHERE") == EJ_OK);
    ej_sharding_strategy strategy = {"NOWHERE", NULL, NULL};
    ej_scheduler_options options = {.sharding_strategies = &strategy, .sharding_strategy_count = 1};
    CHECK(ej_scheduler_new_simple(registry, config, record, NULL, &options, &scheduler) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "sharding") != NULL && scheduler == NULL);
    CHECK(ej_scheduler_new_simple(registry, config, record, NULL, NULL, &scheduler) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "jobShardingStrategyType") != NULL && strstr(ej_last_error(), "NOWHERE") != NULL);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(single_thread_runs_items_one_at_a_time) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct runs runs = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, 0};
    CHECK(ej_registry_embedded_new("c-single", &registry) == EJ_OK);
    CHECK(ej_job_config_new("pool", "", 4, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "jobExecutorServiceHandlerType", "SINGLE_THREAD") == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, record, &runs, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    for (int waited = 0; waited < 5000 && total_runs(&runs) < 4; waited += 50) usleep(50 * 1000);
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    CHECK(total_runs(&runs) == 4);
    CHECK(runs.most == 1);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(int argc, char **argv) {
    CHECK(argc == 2);
    zk = argv[1];
    RUN(a_c_strategy_decides_who_runs_what);
    RUN(a_wrong_answer_is_reported_and_nothing_runs);
    RUN(a_null_strategy_function_or_an_unregistered_type_is_refused);
    RUN(single_thread_runs_items_one_at_a_time);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
