/* HTTP jobs and the THROW error handler through the C API on a real
 * ZooKeeper: argv[1] is its address, argv[2] the base URL of an HTTP server
 * the Rust side started on a loopback port (it checks what arrived there).
 * Prints "N passed, 0 failed". */
#include "elasticjob.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static const char *zk;
static const char *base_url;

TEST(an_http_job_runs_every_item) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    char uri[512];
    snprintf(uri, sizeof uri, "%s/c-run", base_url);
    CHECK(ej_registry_zookeeper_new(zk, "c-http", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-http-job", "", 2, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "shardingItemParameters", "0=x,1=y") == EJ_OK);
    CHECK(ej_job_config_set(config, "props.http.uri", uri) == EJ_OK);
    CHECK(ej_job_config_set(config, "props.http.method", "POST") == EJ_OK);
    CHECK(ej_job_config_set(config, "props.http.data", "from=c") == EJ_OK);
    CHECK(ej_scheduler_new_http(registry, config, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    int succeeded = 0;
    for (int waited = 0; waited < 20000 && succeeded < 2; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_EXECUTION) {
            if (!event.success) fprintf(stderr, "failed: %s\n", event.message);
            CHECK(event.success);
            succeeded++;
        }
        ej_event_clear(&event);
    }
    CHECK(succeeded == 2);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(bad_http_props_are_refused_naming_the_prop) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_embedded_new("c-http-bad", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-http-bad", "", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "props.http.uri", "http://127.0.0.1:1/") == EJ_OK);
    CHECK(ej_scheduler_new_http(registry, config, NULL, &scheduler) == EJ_INVALID_ARGUMENT);
    CHECK(scheduler == NULL);
    CHECK(strstr(ej_last_error(), "http.method") != NULL);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

/* What the error callback received. */
struct thrown {
    pthread_mutex_t lock;
    int calls;
    unsigned item;
    char job_name[64];
    char message[256];
};

static void on_error(const ej_job_error *error, void *user_data) {
    struct thrown *thrown = user_data;
    pthread_mutex_lock(&thrown->lock);
    thrown->calls++;
    thrown->item = error->item;
    snprintf(thrown->job_name, sizeof thrown->job_name, "%s", error->job_name);
    snprintf(thrown->message, sizeof thrown->message, "%s", error->message);
    pthread_mutex_unlock(&thrown->lock);
}

static int failing(const ej_sharding_context *ctx, void *user_data) {
    (void)ctx;
    (void)user_data;
    ej_set_failure_message("the ledger is unreachable");
    return 1;
}

TEST(throw_reaches_the_error_callback_and_the_events) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    struct thrown thrown = {PTHREAD_MUTEX_INITIALIZER, 0, 0, "", ""};
    CHECK(ej_registry_zookeeper_new(zk, "c-throw", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-throw-job", "", 1, &config) == EJ_OK);
    CHECK(ej_job_config_set(config, "jobErrorHandlerType", "THROW") == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, failing, NULL, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_set_error_handler(scheduler, on_error, &thrown) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    CHECK(ej_scheduler_trigger(scheduler) == EJ_OK);
    int thrown_events = 0;
    for (int waited = 0; waited < 20000 && thrown_events == 0; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_THROWN) {
            CHECK(event.item == 0 && strstr(event.message, "the ledger is unreachable") != NULL);
            thrown_events++;
        }
        ej_event_clear(&event);
    }
    CHECK(thrown_events == 1);
    int calls = 0;
    for (int i = 0; i < 200 && calls == 0; i++) {
        pthread_mutex_lock(&thrown.lock);
        calls = thrown.calls;
        pthread_mutex_unlock(&thrown.lock);
        if (calls == 0) usleep(50 * 1000);
    }
    ej_scheduler_free(scheduler);
    CHECK(calls == 1);
    CHECK(thrown.item == 0);
    CHECK(strcmp(thrown.job_name, "c-throw-job") == 0);
    CHECK(strstr(thrown.message, "the ledger is unreachable") != NULL);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s ZOOKEEPER BASE_URL\n", argv[0]);
        return 2;
    }
    zk = argv[1];
    base_url = argv[2];
    RUN(an_http_job_runs_every_item);
    RUN(bad_http_props_are_refused_naming_the_prop);
    RUN(throw_reaches_the_error_callback_and_the_events);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
