/* Cancellation reaches C handlers: with an execution timeout, a handler that
 * polls ej_sharding_context_is_cancelled and one that blocks in
 * ej_sharding_context_wait_cancelled both learn of it ("timed-out") and
 * return early, and the runs are reported as timed out.
 * Prints "N passed, 0 failed". */
#include "elasticjob.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* What each item's handler saw; item 0 polls, item 1 blocks. */
struct seen {
    pthread_mutex_t lock;
    int returned[2];
    int observed[2];
    char reason[2][32];
    long long took_ms[2];
};

static int slow_handler(const ej_sharding_context *ctx, void *user_data) {
    struct seen *seen = user_data;
    unsigned item = ctx->sharding_item;
    long long started = now_ms();
    int observed = 0;
    if (item == 0) {
        while (now_ms() - started < 10000 && !(observed = ej_sharding_context_is_cancelled(ctx) == 1))
            usleep(10 * 1000);
    } else {
        observed = ej_sharding_context_wait_cancelled(ctx, 10000) == 1;
    }
    const char *reason = ej_sharding_context_cancel_reason(ctx);
    pthread_mutex_lock(&seen->lock);
    seen->observed[item] = observed;
    snprintf(seen->reason[item], sizeof seen->reason[item], "%s", reason ? reason : "(none)");
    seen->took_ms[item] = now_ms() - started;
    seen->returned[item] = 1;
    pthread_mutex_unlock(&seen->lock);
    return 0;
}

TEST(a_timed_out_handler_observes_the_cancellation) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct seen seen = {PTHREAD_MUTEX_INITIALIZER, {0, 0}, {0, 0}, {"", ""}, {0, 0}};
    CHECK(ej_registry_embedded_new("c-cancel", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-cancel", "", 2, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "props.executionTimeoutMillis", "300") == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, slow_handler, &seen, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    int timed_out = 0;
    for (int waited = 0; waited < 15000 && timed_out < 2; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_EXECUTION) {
            CHECK(!event.success);
            CHECK(event.message != NULL && strstr(event.message, "timed out") != NULL);
            timed_out++;
        }
        ej_event_clear(&event);
    }
    CHECK(timed_out == 2);
    for (int i = 0; i < 300 && !(seen.returned[0] && seen.returned[1]); i++) usleep(50 * 1000);
    pthread_mutex_lock(&seen.lock);
    for (int item = 0; item < 2; item++) {
        printf("item %d: observed %d, reason %s, returned after %lld ms\n", item, seen.observed[item], seen.reason[item],
               seen.took_ms[item]);
        CHECK(seen.returned[item] && seen.observed[item]);
        CHECK(strcmp(seen.reason[item], "timed-out") == 0);
        CHECK(seen.took_ms[item] < 3000);
    }
    pthread_mutex_unlock(&seen.lock);
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

/* Scenario j: a handler that ignores the signal cannot be stopped from
 * outside; its item stays running until it returns, so no later fire starts
 * it again meanwhile. */
struct overlap {
    pthread_mutex_t lock;
    int running, most, runs;
    long long last_end, earliest_gap;
};

static int stubborn_handler(const ej_sharding_context *ctx, void *user_data) {
    (void)ctx;
    struct overlap *o = user_data;
    pthread_mutex_lock(&o->lock);
    long long started = now_ms();
    if (o->runs > 0 && started - o->last_end < o->earliest_gap) o->earliest_gap = started - o->last_end;
    o->running++;
    if (o->running > o->most) o->most = o->running;
    pthread_mutex_unlock(&o->lock);
    usleep(1500 * 1000); /* ignores the cancellation on purpose */
    pthread_mutex_lock(&o->lock);
    o->running--;
    o->runs++;
    o->last_end = now_ms();
    pthread_mutex_unlock(&o->lock);
    return 0;
}

TEST(a_timed_out_handler_is_never_started_again_before_it_returns) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct overlap o = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 1000000};
    CHECK(ej_registry_embedded_new("c-never-doubled", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-never-doubled", "* * * * * ?", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "props.executionTimeoutMillis", "200") == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, stubborn_handler, &o, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    for (int i = 0; i < 200; i++) {
        pthread_mutex_lock(&o.lock);
        int runs = o.runs;
        pthread_mutex_unlock(&o.lock);
        if (runs >= 2) break;
        usleep(50 * 1000);
    }
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    pthread_mutex_lock(&o.lock);
    printf("runs %d, most at once %d, earliest start after an end %lld ms\n", o.runs, o.most, o.earliest_gap);
    CHECK(o.runs >= 2);
    CHECK(o.most == 1);
    CHECK(o.earliest_gap >= 0);
    pthread_mutex_unlock(&o.lock);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(void) {
    RUN(a_timed_out_handler_observes_the_cancellation);
    RUN(a_timed_out_handler_is_never_started_again_before_it_returns);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
