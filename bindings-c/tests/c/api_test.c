/* The C API on the embedded registry: errors, configuration, simple and
 * dataflow jobs, failure reporting. Plain asserts; prints "N passed, 0 failed". */
#include "elasticjob.h"

#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

TEST(null_and_invalid_arguments_are_errors) {
    ej_registry *registry = NULL;
    CHECK(ej_registry_embedded_new(NULL, &registry) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "namespace") != NULL);
    CHECK(ej_registry_embedded_new("ns", NULL) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "out") != NULL);
    CHECK(ej_registry_zookeeper_new_with(NULL, &registry) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "options") != NULL);
    ej_zookeeper_options options = {"127.0.0.1:1", "ns", 0, 700000, NULL};
    CHECK(ej_registry_zookeeper_new_with(&options, &registry) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "connectionTimeout") != NULL && strstr(ej_last_error(), "700000") != NULL);
    ej_job_config *config = NULL;
    CHECK(ej_job_config_new("bad\xff", "", 1, &config) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "UTF-8") != NULL);
    CHECK(ej_job_config_new("job", "* * * * * ?", -3, &config) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "shardingTotalCount") != NULL && strstr(ej_last_error(), "-3") != NULL);
    CHECK(ej_job_config_new("job", "61 * * * * ?", 1, &config) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "cron") != NULL);
    CHECK(ej_scheduler_start(NULL) == EJ_INVALID_ARGUMENT);
    CHECK(ej_scheduler_instance_id(NULL) == NULL);
    ej_registry_free(NULL);
    ej_job_config_free(NULL);
    ej_scheduler_free(NULL);
}

TEST(config_setters_and_yaml) {
    ej_job_config *config = NULL;
    CHECK(ej_job_config_new("orders", "0/5 * * * * ?", 3, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "failover", "true") == EJ_OK);
    CHECK(ej_job_config_set(config, "shardingItemParameters", "0=a,1=b,2=c") == EJ_OK);
    CHECK(ej_job_config_set(config, "failover", "sometimes") == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "failover") != NULL);
    CHECK(ej_job_config_set(config, "colour", "blue") == EJ_INVALID_ARGUMENT);
    char *yaml = NULL;
    CHECK(ej_job_config_to_yaml(config, &yaml) == EJ_OK);
    CHECK(strstr(yaml, "failover: true") != NULL);
    CHECK(strstr(yaml, "shardingTotalCount: 3") != NULL);
    ej_job_config *again = NULL;
    CHECK(ej_job_config_from_yaml(yaml, &again) == EJ_OK);
    ej_string_free(yaml);
    CHECK(ej_job_config_from_yaml("jobName: x\nshardingTotalCount: 0\n", &again) == EJ_INVALID_ARGUMENT);
    ej_job_config_free(again);
    ej_job_config_free(config);
}

struct counts {
    pthread_mutex_t lock;
    int runs[4];
};

static int execute(const ej_sharding_context *ctx, void *user_data) {
    struct counts *counts = user_data;
    if (ctx->sharding_item == 1) {
        ej_set_failure_message("item one refuses");
        return 7;
    }
    pthread_mutex_lock(&counts->lock);
    counts->runs[ctx->sharding_item]++;
    pthread_mutex_unlock(&counts->lock);
    return 0;
}

TEST(a_failing_callback_is_reported_and_later_fires_still_run) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct counts counts = {PTHREAD_MUTEX_INITIALIZER, {0}};
    CHECK(ej_registry_embedded_new("c-api", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-simple", "* * * * * ?", 3, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, execute, &counts, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(strstr(ej_scheduler_instance_id(scheduler), "@-@") != NULL);
    CHECK(ej_scheduler_start(scheduler) == EJ_ILLEGAL_STATE);
    int failures = 0;
    for (int waited = 0; waited < 3500; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_EXECUTION && !event.success) {
            CHECK(event.item == 1);
            CHECK(event.message != NULL && strstr(event.message, "item one refuses") != NULL);
            failures++;
        }
        ej_event_clear(&event);
    }
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    CHECK(failures >= 2);
    CHECK(counts.runs[0] >= 3 && counts.runs[2] >= 3);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

static int batches_left = 2;
static int processed = 0;

static int fetch(const ej_sharding_context *ctx, ej_items *items, void *user_data) {
    (void)ctx;
    (void)user_data;
    if (__sync_fetch_and_sub(&batches_left, 1) > 0) {
        for (int i = 0; i < 3; i++) {
            int *value = malloc(sizeof(int));
            *value = i;
            CHECK(ej_items_push(items, value) == EJ_OK);
        }
    }
    return 0;
}

static int process(const ej_sharding_context *ctx, void *const *items, size_t count, void *user_data) {
    (void)ctx;
    (void)user_data;
    for (size_t i = 0; i < count; i++) {
        free(items[i]);
        __sync_fetch_and_add(&processed, 1);
    }
    return 0;
}

TEST(dataflow_streams_until_fetch_is_empty) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_embedded_new("c-dataflow", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-feed", "", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "props.streaming.process", "true") == EJ_OK);
    CHECK(ej_scheduler_new_dataflow(registry, config, fetch, process, NULL, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    for (int i = 0; i < 100 && processed < 6; i++) usleep(50 * 1000);
    CHECK(processed == 6);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(operator_disables_and_triggers) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    ej_operator *op = NULL;
    struct counts counts = {PTHREAD_MUTEX_INITIALIZER, {0}};
    CHECK(ej_registry_embedded_new("c-ops", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-manual", "", 3, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, execute, &counts, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_operator_new(registry, &op) == EJ_OK);
    CHECK(ej_operator_set_item_disabled(op, "c-manual", 2, true) == EJ_OK);
    CHECK(ej_operator_apply(op, EJ_TRIGGER, "c-manual", NULL) == EJ_OK);
    for (int i = 0; i < 100 && counts.runs[0] < 1; i++) usleep(50 * 1000);
    usleep(300 * 1000);
    CHECK(counts.runs[0] == 1 && counts.runs[2] == 0);
    CHECK(ej_operator_apply(op, EJ_TRIGGER, "no-such-job", NULL) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "no-such-job") != NULL);
    /* A trigger with an overlap override; a bad override is named. */
    CHECK(ej_operator_trigger_with(op, "c-manual", "SKIP") == EJ_OK);
    CHECK(ej_operator_trigger_with(op, "c-manual", "SOMETIMES") == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "overlapPolicy `SOMETIMES`") != NULL);
    CHECK(ej_operator_set_item_disabled(op, "c-manual", 9, true) == EJ_INVALID_ARGUMENT);
    /* Pause with a note, a past end refused by name, resume. */
    bool was_paused = false;
    CHECK(ej_operator_pause(op, "c-manual", "ops", "quarterly close", 0) == EJ_OK);
    CHECK(ej_operator_pause(op, "c-manual", "ops", NULL, 1000) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "until") != NULL);
    CHECK(ej_operator_pause(op, "c-manual", NULL, NULL, 0) == EJ_INVALID_ARGUMENT);
    CHECK(ej_operator_resume(op, "c-manual", &was_paused) == EJ_OK && was_paused);
    CHECK(ej_operator_resume(op, "c-manual", &was_paused) == EJ_OK && !was_paused);
    CHECK(ej_operator_resume(op, "c-manual", NULL) == EJ_OK);
    ej_operator_free(op);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

static pthread_mutex_t backfilled_lock = PTHREAD_MUTEX_INITIALIZER;
static int backfilled = 0;
static int64_t backfill_end = 0;

/* Counts the runs of fires before `backfill_end` (a cron fire at the top of an hour the test crosses is not one). */
static int count_backfilled(const ej_sharding_context *ctx, void *user_data) {
    (void)user_data;
    if (ctx->fire_time < backfill_end) {
        pthread_mutex_lock(&backfilled_lock);
        backfilled++;
        pthread_mutex_unlock(&backfilled_lock);
    }
    return 0;
}

TEST(operator_backfills_a_range) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    ej_operator *op = NULL;
    CHECK(ej_registry_embedded_new("c-backfill", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-hourly", "0 0 * * * ?", 2, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, count_backfilled, NULL, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_operator_new(registry, &op) == EJ_OK);
    int64_t to = (int64_t)time(NULL) / 3600 * 3600 * 1000;
    backfill_end = to;
    char *id = NULL;
    CHECK(ej_operator_backfill(op, "c-hourly", to - 3 * 3600000, to, "ops", NULL, &id) == EJ_OK);
    CHECK(id != NULL && strncmp(id, "bf-", 3) == 0);
    size_t started = 0, total = 0;
    for (int i = 0; i < 200 && (started < 6 || backfilled < 6); i++) {
        usleep(50 * 1000);
        CHECK(ej_operator_backfill_progress(op, "c-hourly", id, &started, &total) == EJ_OK);
    }
    CHECK(started == 6 && total == 6);
    pthread_mutex_lock(&backfilled_lock);
    CHECK(backfilled == 6);
    pthread_mutex_unlock(&backfilled_lock);
    char *refused = NULL;
    CHECK(ej_operator_backfill(op, "c-hourly", to, to + 86400000, "ops", NULL, &refused) == EJ_INVALID_ARGUMENT);
    CHECK(refused == NULL && strstr(ej_last_error(), "must not be in the future") != NULL);
    CHECK(ej_operator_backfill(op, "c-hourly", to - 3600000, to, "ops", NULL, NULL) == EJ_INVALID_ARGUMENT);
    CHECK(ej_operator_backfill(op, "c-hourly", to - 3600000, to, "ops", "CANCEL_OTHER", &refused) == EJ_INVALID_ARGUMENT);
    CHECK(refused == NULL && strstr(ej_last_error(), "BUFFER_ALL") != NULL);
    CHECK(ej_operator_cancel_backfill(op, "c-hourly", id) == EJ_OK);
    CHECK(ej_operator_backfill_progress(op, "c-hourly", id, NULL, NULL) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "is not a backfill of this job") != NULL);
    ej_string_free(id);
    ej_operator_free(op);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(bad_input_is_an_error_never_a_crash) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    ej_operator *op = NULL;
    /* Item counts above the stated maximum (100000). */
    CHECK(ej_job_config_new("huge", "", INT_MAX, &config) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "shardingTotalCount") != NULL && strstr(ej_last_error(), "2147483647") != NULL);
    CHECK(config == NULL);
    CHECK(ej_job_config_new("huge", "", 100001, &config) == EJ_INVALID_ARGUMENT);
    CHECK(ej_job_config_new("huge", "", 100000, &config) == EJ_OK);
    CHECK(ej_job_config_from_yaml("jobName: huge\nshardingTotalCount: 2147483647\n", &config) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "2147483647") != NULL);
    CHECK(ej_job_config_set(config, "shardingTotalCount", "2147483647") == EJ_OK);
    CHECK(ej_registry_embedded_new("c-bad", &registry) == EJ_OK);
    CHECK(ej_scheduler_new_script(registry, config, NULL, &scheduler) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "shardingTotalCount") != NULL && scheduler == NULL);
    /* Enum values C can pass that are not an ej_operation. */
    CHECK(ej_operator_new(registry, &op) == EJ_OK);
    int bad_operations[] = {-1, 5, 1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof bad_operations / sizeof bad_operations[0]; i++) {
        CHECK(ej_operator_apply(op, bad_operations[i], "huge", NULL) == EJ_INVALID_ARGUMENT);
        CHECK(strstr(ej_last_error(), "operation") != NULL && strstr(ej_last_error(), "EJ_TRIGGER") != NULL);
    }
    CHECK(ej_operator_apply(op, 7, "huge", NULL) == EJ_INVALID_ARGUMENT && strstr(ej_last_error(), "`7`") != NULL);
    /* Absurd session timeouts (0 is the default). */
    ej_registry *zk = NULL;
    CHECK(ej_registry_zookeeper_new("127.0.0.1:1", "ns", UINT32_MAX, &zk) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "sessionTimeout") != NULL && strstr(ej_last_error(), "4294967295") != NULL && zk == NULL);
    CHECK(ej_registry_zookeeper_new("127.0.0.1:1", "ns", 600001, &zk) == EJ_INVALID_ARGUMENT);
    CHECK(ej_registry_zookeeper_new("127.0.0.1:1", "ns", 99, &zk) == EJ_INVALID_ARGUMENT);
    CHECK(ej_registry_zookeeper_new("127.0.0.1:1", "ns", 600000, &zk) == EJ_OK);
    /* Digest credentials: `user:password`, never echoed in the error. */
    ej_registry *guarded = NULL;
    CHECK(ej_registry_zookeeper_new_digest("127.0.0.1:1", "ns", 0, "no-user-part", &guarded) == EJ_INVALID_ARGUMENT);
    CHECK(strstr(ej_last_error(), "digest") != NULL && strstr(ej_last_error(), "no-user-part") == NULL && guarded == NULL);
    CHECK(ej_registry_zookeeper_new_digest("127.0.0.1:1", "ns", 0, "ops:secret", &guarded) == EJ_OK);
    ej_registry_free(guarded);
    CHECK(ej_registry_zookeeper_new_digest("127.0.0.1:1", "ns", 0, NULL, &guarded) == EJ_OK);
    ej_registry_free(guarded);
    /* The context functions on NULL. */
    CHECK(ej_sharding_context_is_cancelled(NULL) == -1 && strstr(ej_last_error(), "ctx") != NULL);
    CHECK(ej_sharding_context_wait_cancelled(NULL, 10) == -1);
    CHECK(ej_sharding_context_cancel_reason(NULL) == NULL);
    CHECK(ej_sharding_context_fencing_token(NULL) == 0);
    ej_registry_free(zk);
    ej_operator_free(op);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

struct observed {
    pthread_mutex_t lock;
    int runs;
    int cancelled;
    int waited;
    int64_t token;
    int token_matches;
};

static int observe(const ej_sharding_context *ctx, void *user_data) {
    struct observed *seen = user_data;
    int cancelled = ej_sharding_context_is_cancelled(ctx);
    int waited = ej_sharding_context_wait_cancelled(ctx, 20);
    const char *reason = ej_sharding_context_cancel_reason(ctx);
    pthread_mutex_lock(&seen->lock);
    seen->runs++;
    seen->cancelled += cancelled != 0 || reason != NULL;
    seen->waited += waited;
    seen->token = ej_sharding_context_fencing_token(ctx);
    seen->token_matches = seen->token == ctx->fencing_token && ctx->cancellation != NULL;
    pthread_mutex_unlock(&seen->lock);
    return 0;
}

TEST(a_running_context_is_not_cancelled_and_has_a_fencing_token) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct observed seen = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, -1, 0};
    CHECK(ej_registry_embedded_new("c-context", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-context", "", 2, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, observe, &seen, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    for (int i = 0; i < 100 && seen.runs < 2; i++) usleep(50 * 1000);
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    pthread_mutex_lock(&seen.lock);
    CHECK(seen.runs == 2 && seen.cancelled == 0 && seen.waited == 0);
    CHECK(seen.token >= 0 && seen.token_matches);
    pthread_mutex_unlock(&seen.lock);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(void) {
    RUN(null_and_invalid_arguments_are_errors);
    RUN(config_setters_and_yaml);
    RUN(a_failing_callback_is_reported_and_later_fires_still_run);
    RUN(dataflow_streams_until_fetch_is_empty);
    RUN(operator_disables_and_triggers);
    RUN(operator_backfills_a_range);
    RUN(bad_input_is_an_error_never_a_crash);
    RUN(a_running_context_is_not_cancelled_and_has_a_fencing_token);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
