/* The execution history through the C API on a real ZooKeeper: argv[1] is
 * its address, argv[2] a SQLite file the Rust side reads afterwards. Prints
 * "executions N" and "N passed, 0 failed". */
#include "elasticjob.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

static const char *zk;
static const char *db;

static int execute(const ej_sharding_context *ctx, void *user_data) {
    (void)user_data;
    if (ctx->sharding_item == 1) {
        ej_set_failure_message("item one refuses");
        return 1;
    }
    return 0;
}

TEST(executions_are_written_to_a_sqlite_history) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    char url[1024];
    snprintf(url, sizeof url, "sqlite://%s", db);
    ej_scheduler_options options = {0};
    options.history = url;
    CHECK(ej_registry_zookeeper_new(zk, "c-history", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-traced", "* * * * * ?", 2, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, execute, NULL, &options, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    int executions = 0;
    for (int waited = 0; waited < 20000 && executions < 4; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_EXECUTION) executions++;
        ej_event_clear(&event);
    }
    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    for (;;) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 0, &event) == EJ_OK);
        ej_event_type kind = event.kind;
        if (kind == EJ_EVENT_EXECUTION) executions++;
        ej_event_clear(&event);
        if (kind == EJ_EVENT_NONE || kind == EJ_EVENT_STOPPED) break;
    }
    CHECK(executions >= 4);
    ej_history_stats stats;
    CHECK(ej_scheduler_history_stats(scheduler, &stats) == EJ_OK);
    CHECK(stats.dropped == 0 && stats.pending == 0 && stats.written >= (uint64_t)executions);
    printf("executions %d\n", executions);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(without_a_history_there_are_no_stats_and_a_bad_url_is_refused) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    ej_history_stats stats;
    CHECK(ej_registry_embedded_new("c-history-bad", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-untraced", "", 1, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, execute, NULL, NULL, &scheduler) == EJ_OK);
    CHECK(ej_scheduler_history_stats(scheduler, &stats) == EJ_ILLEGAL_STATE);
    ej_scheduler_free(scheduler);
    scheduler = NULL;
    ej_scheduler_options options = {0};
    options.history = "mysql://db/x";
    CHECK(ej_scheduler_new_simple(registry, config, execute, NULL, &options, &scheduler) == EJ_INVALID_ARGUMENT);
    CHECK(scheduler == NULL);
    CHECK(strstr(ej_last_error(), "history") != NULL);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: history_test ZK DB\n");
        return 2;
    }
    zk = argv[1];
    db = argv[2];
    RUN(executions_are_written_to_a_sqlite_history);
    RUN(without_a_history_there_are_no_stats_and_a_bad_url_is_refused);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
