/* Job listeners, one-off jobs and monitorExecution=false through the C API,
 * on the real ZooKeeper whose address is argv[1]. Two schedulers of one job
 * run in this process. Prints "N passed, 0 failed". */
#include "elasticjob.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static const char *zk;

enum kind { RUN, BEFORE, AFTER, ONCE_BEFORE, ONCE_AFTER };

struct record {
    int instance;
    enum kind kind;
    long long fire_time;
    size_t items;
};

/* Everything the callbacks saw, shared by both instances. */
static struct {
    pthread_mutex_t lock;
    struct record records[4096];
    int count;
} seen = {PTHREAD_MUTEX_INITIALIZER, {{0, RUN, 0, 0}}, 0};

/* Each instance's user_data: its number. */
static int instance_numbers[2] = {0, 1};

static void note(int instance, enum kind kind, long long fire_time, size_t items) {
    pthread_mutex_lock(&seen.lock);
    if (seen.count < 4096) seen.records[seen.count++] = (struct record){instance, kind, fire_time, items};
    pthread_mutex_unlock(&seen.lock);
}

static int execute(const ej_sharding_context *ctx, void *user_data) {
    note(*(int *)user_data, RUN, ctx->fire_time, 1);
    usleep(50 * 1000);
    return 0;
}

static int before(const ej_sharding_contexts *contexts, void *user_data) {
    for (size_t i = 1; i < contexts->item_count; i++)
        if (contexts->items[i - 1] >= contexts->items[i]) return 1;
    if (contexts->item_count > 0 && strcmp(contexts->item_parameters[0], "p") != 0) return 1;
    note(*(int *)user_data, BEFORE, contexts->fire_time, contexts->item_count);
    return 0;
}

static int after(const ej_sharding_contexts *contexts, void *user_data) {
    note(*(int *)user_data, AFTER, contexts->fire_time, contexts->item_count);
    ej_set_failure_message("listener failures are only reported");
    return 7;
}

static int once_before(const ej_sharding_contexts *contexts, void *user_data) {
    note(*(int *)user_data, ONCE_BEFORE, contexts->fire_time, contexts->item_count);
    return 0;
}

static int once_after(const ej_sharding_contexts *contexts, void *user_data) {
    note(*(int *)user_data, ONCE_AFTER, contexts->fire_time, contexts->item_count);
    return 0;
}

static int count(int instance, enum kind kind, long long fire_time, size_t *items) {
    int n = 0;
    pthread_mutex_lock(&seen.lock);
    for (int i = 0; i < seen.count; i++) {
        struct record r = seen.records[i];
        if ((instance < 0 || r.instance == instance) && r.kind == kind && r.fire_time == fire_time) {
            n++;
            if (items) *items = r.items;
        }
    }
    pthread_mutex_unlock(&seen.lock);
    return n;
}

static ej_scheduler *scheduler_for(ej_registry *registry, ej_job_config *config, int n, ej_listeners *listeners, bool one_off) {
    char id[64];
    snprintf(id, sizeof id, "127.0.0.1@-@c-listen-%d", n);
    ej_scheduler_options options = {.instance_id = id, .listeners = listeners, .one_off = one_off};
    ej_scheduler *scheduler = NULL;
    CHECK(ej_scheduler_new_simple(registry, config, execute, &instance_numbers[n], &options, &scheduler) == EJ_OK);
    return scheduler;
}

TEST(listeners_run_per_instance_per_fire_and_the_once_listener_once_across_the_cluster) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *schedulers[2];
    CHECK(ej_registry_zookeeper_new(zk, "c-listeners", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-listened", "* * * * * ?", 4, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "shardingItemParameters", "0=p,1=p,2=p,3=p") == EJ_OK);
    for (int n = 0; n < 2; n++) {
        ej_listeners *listeners = NULL;
        CHECK(ej_listeners_new(&listeners) == EJ_OK);
        CHECK(ej_listeners_add(listeners, before, after, &instance_numbers[n]) == EJ_OK);
        CHECK(ej_listeners_add_once(listeners, once_before, once_after, 3000, 3000, &instance_numbers[n]) == EJ_OK);
        schedulers[n] = scheduler_for(registry, config, n, listeners, false);
        ej_listeners_free(listeners); /* the scheduler keeps its own copy */
    }
    for (int n = 0; n < 2; n++) CHECK(ej_scheduler_start(schedulers[n]) == EJ_OK);
    sleep(5);
    int reported = 0;
    ej_event event = {0};
    while (ej_scheduler_next_event(schedulers[0], 0, &event) == EJ_OK && event.kind != EJ_EVENT_NONE) {
        if (event.kind == EJ_EVENT_ERROR && event.message && strstr(event.message, "listener failures are only reported"))
            reported = 1;
        ej_event_clear(&event);
    }
    for (int n = 0; n < 2; n++) ej_scheduler_shutdown(schedulers[n]);
    usleep(300 * 1000);
    CHECK(reported);
    /* Fires in which both instances ran two items each. */
    int whole = 0;
    long long fires[64];
    int fire_count = 0;
    pthread_mutex_lock(&seen.lock);
    for (int i = 0; i < seen.count && fire_count < 64; i++) {
        int known = 0;
        for (int f = 0; f < fire_count; f++) known |= fires[f] == seen.records[i].fire_time;
        if (!known && seen.records[i].kind == RUN) fires[fire_count++] = seen.records[i].fire_time;
    }
    pthread_mutex_unlock(&seen.lock);
    for (int f = 0; f < fire_count; f++) {
        if (count(0, RUN, fires[f], NULL) != 2 || count(1, RUN, fires[f], NULL) != 2) continue;
        whole++;
        for (int n = 0; n < 2; n++) {
            size_t items = 0;
            CHECK(count(n, BEFORE, fires[f], &items) == 1 && items == 2);
            CHECK(count(n, AFTER, fires[f], &items) == 1 && items == 2);
        }
        CHECK(count(-1, ONCE_BEFORE, fires[f], NULL) == 1);
        CHECK(count(-1, ONCE_AFTER, fires[f], NULL) == 1);
    }
    CHECK(whole >= 2);
    for (int n = 0; n < 2; n++) ej_scheduler_free(schedulers[n]);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(a_once_listener_needs_positive_timeouts) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_listeners *listeners = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_zookeeper_new(zk, "c-listeners", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-bad-once", "", 1, &config) == EJ_OK);
    CHECK(ej_listeners_new(&listeners) == EJ_OK);
    CHECK(ej_listeners_add_once(listeners, NULL, NULL, 0, 1000, NULL) == EJ_OK);
    ej_scheduler_options options = {.listeners = listeners};
    CHECK(ej_scheduler_new_simple(registry, config, execute, &instance_numbers[0], &options, &scheduler) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "startedTimeoutMilliseconds `0`") != NULL);
    CHECK(scheduler == NULL);
    ej_listeners_free(listeners);
    ej_listeners_free(NULL);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(a_one_off_job_runs_every_instances_items_once_per_execute) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *schedulers[2];
    CHECK(ej_registry_zookeeper_new(zk, "c-one-off", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-one-off", "", 4, &config) == EJ_OK);
    for (int n = 0; n < 2; n++) schedulers[n] = scheduler_for(registry, config, n, NULL, true);
    for (int n = 0; n < 2; n++) CHECK(ej_scheduler_start(schedulers[n]) == EJ_OK);
    pthread_mutex_lock(&seen.lock);
    seen.count = 0;
    pthread_mutex_unlock(&seen.lock);
    sleep(1);
    CHECK(seen.count == 0); /* nothing runs before execute */
    CHECK(ej_scheduler_execute(schedulers[1]) == EJ_OK);
    for (int i = 0; i < 200 && seen.count < 4; i++) usleep(50 * 1000);
    usleep(500 * 1000);
    pthread_mutex_lock(&seen.lock);
    int runs = seen.count;
    pthread_mutex_unlock(&seen.lock);
    CHECK(runs == 4);
    for (int n = 0; n < 2; n++) ej_scheduler_free(schedulers[n]);
    ej_job_config *cron = NULL;
    ej_scheduler *rejected = NULL;
    CHECK(ej_job_config_new("c-one-off", "* * * * * ?", 1, &cron) == EJ_OK);
    ej_scheduler_options options = {.one_off = true};
    CHECK(ej_scheduler_new_simple(registry, cron, execute, &instance_numbers[0], &options, &rejected) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "one-off") != NULL && strstr(ej_last_error(), "cron") != NULL);
    ej_job_config_free(cron);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(failover_without_monitor_execution_is_refused) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_zookeeper_new(zk, "c-unmonitored", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-unmonitored", "* * * * * ?", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "monitorExecution", "false") == EJ_OK);
    CHECK(ej_job_config_set(config, "failover", "true") == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, execute, &instance_numbers[0], NULL, &scheduler) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "monitorExecution `false`") != NULL);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s ZK\n", argv[0]);
        return 2;
    }
    zk = argv[1];
    RUN(listeners_run_per_instance_per_fire_and_the_once_listener_once_across_the_cluster);
    RUN(a_once_listener_needs_positive_timeouts);
    RUN(a_one_off_job_runs_every_instances_items_once_per_execute);
    RUN(failover_without_monitor_execution_is_refused);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
