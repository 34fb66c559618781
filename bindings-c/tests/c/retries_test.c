/* Retries reach C handlers: with props retryMaxAttempts 3, a handler that
 * fails its first attempt is called again after the back-off with
 * ctx->attempt 2 and the same fire time, and each execution event carries
 * its attempt. A bad retry prop is refused naming it.
 * Prints "N passed, 0 failed". */
#include "elasticjob.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

struct calls {
    pthread_mutex_t lock;
    int count;
    unsigned attempt[4];
    int64_t fire_time[4];
    long long at[4];
};

static int failing_once(const ej_sharding_context *ctx, void *user_data) {
    struct calls *calls = user_data;
    pthread_mutex_lock(&calls->lock);
    if (calls->count < 4) {
        calls->attempt[calls->count] = ctx->attempt;
        calls->fire_time[calls->count] = ctx->fire_time;
        calls->at[calls->count] = now_ms();
        calls->count++;
    }
    pthread_mutex_unlock(&calls->lock);
    if (ctx->attempt < 2) {
        ej_set_failure_message("first attempt fails");
        return 1;
    }
    return 0;
}

TEST(a_failed_run_is_retried_with_its_attempt_number) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct calls calls = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, {0}, {0}};
    CHECK(ej_registry_embedded_new("c-retries", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-retries", "", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "props.retryMaxAttempts", "3") == EJ_OK);
    CHECK(ej_job_config_set(config, "props.retryInitialIntervalMillis", "200") == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, failing_once, &calls, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    unsigned attempts[2] = {0, 0};
    int successes[2] = {0, 0};
    int executions = 0;
    for (int waited = 0; waited < 10000 && executions < 2; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_EXECUTION) {
            attempts[executions] = event.attempt;
            successes[executions] = event.success;
            executions++;
        }
        ej_event_clear(&event);
    }
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    CHECK(executions == 2);
    CHECK(attempts[0] == 1 && !successes[0]);
    CHECK(attempts[1] == 2 && successes[1]);
    pthread_mutex_lock(&calls.lock);
    printf("attempts %u then %u, %lld ms apart\n", calls.attempt[0], calls.attempt[1], calls.at[1] - calls.at[0]);
    CHECK(calls.count == 2);
    CHECK(calls.attempt[0] == 1 && calls.attempt[1] == 2);
    CHECK(calls.fire_time[0] == calls.fire_time[1]);
    CHECK(calls.at[1] - calls.at[0] >= 190);
    pthread_mutex_unlock(&calls.lock);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(a_bad_retry_prop_is_refused_naming_it) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_embedded_new("c-retries-bad", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-retries-bad", "", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "props.retryMaxAttempts", "0") == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, failing_once, NULL, NULL, &scheduler) != EJ_OK);
    CHECK(scheduler == NULL);
    CHECK(strstr(ej_last_error(), "retryMaxAttempts") != NULL);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(void) {
    RUN(a_failed_run_is_retried_with_its_attempt_number);
    RUN(a_bad_retry_prop_is_refused_naming_it);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
