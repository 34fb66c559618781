/* What makes the C API feel native: the version (macros and ej_version),
 * status descriptions, and the library's logs (stderr by default, then a
 * log callback) with a failed execution's multi-line message intact.
 * The Rust side checks the stderr part. Prints "N passed, 0 failed". */
#include "elasticjob.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

#define FAILURE "first line of the failure\n    at second_line (job.c:12)"

TEST(version_macros_match_the_loaded_library) {
    CHECK(strcmp(ej_version(), EJ_VERSION_STRING) == 0);
    char joined[32];
    snprintf(joined, sizeof joined, "%d.%d.%d", EJ_VERSION_MAJOR, EJ_VERSION_MINOR, EJ_VERSION_PATCH);
    CHECK(strcmp(joined, ej_version()) == 0);
}

TEST(every_status_has_a_description) {
    CHECK(strcmp(ej_status_str(EJ_OK), "ok") == 0);
    CHECK(strcmp(ej_status_str(EJ_INVALID_ARGUMENT), "invalid argument") == 0);
    CHECK(strcmp(ej_status_str(EJ_REGISTRY_ERROR), "registry error") == 0);
    CHECK(strcmp(ej_status_str(EJ_ILLEGAL_STATE), "illegal state") == 0);
    CHECK(strcmp(ej_status_str(EJ_INTERNAL_ERROR), "internal error") == 0);
    CHECK(strcmp(ej_status_str(99), "unknown status") == 0);
    CHECK(strcmp(ej_status_str(-1), "unknown status") == 0);
}

static int fail(const ej_sharding_context *ctx, void *user_data) {
    (void)ctx;
    (void)user_data;
    ej_set_failure_message(FAILURE);
    return 1;
}

struct records {
    pthread_mutex_t lock;
    int failures;
    int level;
    char target[128];
    char message[512];
};

static void collect(const ej_log_record *record, void *user_data) {
    struct records *r = user_data;
    if (strstr(record->message, "job execution failed") == NULL) return;
    pthread_mutex_lock(&r->lock);
    r->failures++;
    r->level = record->level;
    snprintf(r->target, sizeof r->target, "%s", record->target);
    snprintf(r->message, sizeof r->message, "%s", record->message);
    pthread_mutex_unlock(&r->lock);
}

/* Triggers the failing job and waits for its execution event. */
static void run_failing_item(ej_scheduler *scheduler) {
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    for (int i = 0; i < 100; i++) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        int done = event.kind == EJ_EVENT_EXECUTION;
        ej_event_clear(&event);
        if (done) return;
    }
    CHECK(!"the triggered item ran");
}

TEST(failures_are_logged_to_stderr_then_to_the_callback) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_embedded_new("logging", &registry) == EJ_OK);
    CHECK(ej_job_config_new("logged", "", 1, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, fail, NULL, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    run_failing_item(scheduler); /* no callback yet: stderr */

    struct records records = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};
    CHECK(ej_set_log_callback(collect, &records) == EJ_OK);
    run_failing_item(scheduler);
    pthread_mutex_lock(&records.lock);
    CHECK(records.failures == 1);
    CHECK(records.level == EJ_LOG_ERROR);
    CHECK(strncmp(records.target, "elasticjob", 10) == 0);
    CHECK(strstr(records.message, "first line of the failure") != NULL);
    CHECK(strstr(records.message, "\n    at second_line (job.c:12)") != NULL);
    CHECK(strstr(records.message, "job=logged") != NULL);
    pthread_mutex_unlock(&records.lock);

    CHECK(ej_set_log_callback(NULL, NULL) == EJ_OK); /* back to stderr */
    run_failing_item(scheduler);
    CHECK(records.failures == 1);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(void) {
    RUN(version_macros_match_the_loaded_library);
    RUN(every_status_has_a_description);
    RUN(failures_are_logged_to_stderr_then_to_the_callback);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
