/* Worker metrics through the C API on a real ZooKeeper (argv[1]): the
 * snapshot and the process's /metrics endpoint, after real executions,
 * agree with the executions the scheduler reported. Prints
 * "N passed, 0 failed". */
#include "elasticjob.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

static const char *zk;

static int execute(const ej_sharding_context *ctx, void *user_data) {
    (void)user_data;
    if (ctx->sharding_item == 1) {
        ej_set_failure_message("item one refuses");
        return 1;
    }
    return 0;
}

/* GET `path` from 127.0.0.1:port into `buffer` (NUL-terminated); the whole response. */
static void http_get(uint16_t port, const char *path, char *buffer, size_t size) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(connect(fd, (struct sockaddr *)&address, sizeof address) == 0);
    char request[256];
    int length = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: c\r\n\r\n", path);
    CHECK(write(fd, request, (size_t)length) == length);
    size_t used = 0;
    ssize_t n;
    while (used + 1 < size && (n = read(fd, buffer + used, size - used - 1)) > 0) used += (size_t)n;
    buffer[used] = '\0';
    close(fd);
}

/* The value of the sample line `series` in a scraped body (-1 if absent). */
static long long sample(const char *text, const char *series) {
    size_t length = strlen(series);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, series, length) == 0 && line[length] == ' ') return atoll(line + length + 1);
    }
    return -1;
}

static char body[1 << 16];

TEST(the_snapshot_and_the_endpoint_match_the_executions) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    ej_scheduler_options options = {0};
    options.metrics_listen = "127.0.0.1:0";
    CHECK(ej_registry_zookeeper_new(zk, "c-metrics", 5000, &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-metered", "* * * * * ?", 2, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, execute, NULL, &options, &scheduler) == EJ_OK);
    uint16_t port = 0;
    CHECK(ej_scheduler_metrics_port(scheduler, &port) == EJ_OK && port != 0);
    ej_metrics metrics;
    CHECK(ej_scheduler_metrics(scheduler, &metrics) == EJ_OK);
    CHECK(metrics.session_state == EJ_SESSION_CLOSED && metrics.executions_succeeded == 0);
    CHECK(ej_scheduler_start(scheduler) == EJ_OK);
    int executions = 0, succeeded = 0;
    for (int waited = 0; waited < 20000 && executions < 4; waited += 100) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 100, &event) == EJ_OK);
        if (event.kind == EJ_EVENT_EXECUTION) {
            executions++;
            succeeded += event.success;
        }
        ej_event_clear(&event);
    }
    CHECK(ej_scheduler_metrics(scheduler, &metrics) == EJ_OK);
    CHECK(metrics.session_state == EJ_SESSION_CONNECTED && metrics.items_owned == 2);
    http_get(port, "/metrics", body, sizeof body);
    CHECK(strncmp(body, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(strstr(body, "# TYPE elasticjob_fire_lag_seconds histogram") != NULL);
    http_get(port, "/other", body, sizeof body);
    CHECK(strncmp(body, "HTTP/1.1 404", 12) == 0);

    CHECK(ej_scheduler_shutdown(scheduler) == EJ_OK);
    for (;;) {
        ej_event event;
        CHECK(ej_scheduler_next_event(scheduler, 0, &event) == EJ_OK);
        ej_event_type kind = event.kind;
        if (kind == EJ_EVENT_EXECUTION) {
            executions++;
            succeeded += event.success;
        }
        ej_event_clear(&event);
        if (kind == EJ_EVENT_NONE || kind == EJ_EVENT_STOPPED) break;
    }
    CHECK(executions >= 4);
    CHECK(ej_scheduler_metrics(scheduler, &metrics) == EJ_OK);
    CHECK(metrics.executions_succeeded == (uint64_t)succeeded);
    CHECK(metrics.executions_failed == (uint64_t)(executions - succeeded) && metrics.executions_failed >= 2);
    CHECK(metrics.executions_timed_out == 0 && metrics.executions_cancelled == 0);
    CHECK(metrics.fire_lag_count == (uint64_t)executions && metrics.handler_duration_count == (uint64_t)executions);
    CHECK(metrics.fire_lag_bounds[0] > 0.0 && metrics.fire_lag_buckets[EJ_FIRE_LAG_BUCKETS - 1] <= metrics.fire_lag_count);
    CHECK(metrics.fires_cron >= 2 && metrics.fires_trigger == 0);
    CHECK(metrics.session_state == EJ_SESSION_CLOSED && metrics.items_owned == 0 && metrics.items_running == 0);
    CHECK(!metrics.has_history);
    http_get(port, "/metrics", body, sizeof body);
    CHECK(sample(body, "elasticjob_executions_total{job=\"c-metered\",outcome=\"succeeded\"}") == succeeded);
    CHECK(sample(body, "elasticjob_executions_total{job=\"c-metered\",outcome=\"failed\"}") == executions - succeeded);
    CHECK(sample(body, "elasticjob_fires_total{job=\"c-metered\",kind=\"cron\"}") == (long long)metrics.fires_cron);
    CHECK(sample(body, "elasticjob_handler_duration_seconds_count{job=\"c-metered\"}") == executions);
    CHECK(sample(body, "elasticjob_registry_session_state{job=\"c-metered\",state=\"closed\"}") == 1);

    /* One endpoint per process: another address is refused, naming it. */
    ej_scheduler *other = NULL;
    ej_scheduler_options elsewhere = {0};
    elsewhere.metrics_listen = "127.0.0.1:1";
    CHECK(ej_scheduler_new_simple(registry, config, execute, NULL, &elsewhere, &other) == EJ_INVALID_ARGUMENT);
    CHECK(other == NULL && strstr(ej_last_error(), "127.0.0.1:1") != NULL);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

TEST(without_an_endpoint_there_is_a_snapshot_but_no_port) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    CHECK(ej_registry_embedded_new("c-metrics-plain", &registry) == EJ_OK);
    CHECK(ej_job_config_new("c-plain", "", 1, &config) == EJ_OK);
    CHECK(ej_scheduler_new_simple(registry, config, execute, NULL, NULL, &scheduler) == EJ_OK);
    uint16_t port = 7;
    CHECK(ej_scheduler_metrics_port(scheduler, &port) == EJ_ILLEGAL_STATE && port == 0);
    ej_metrics metrics;
    CHECK(ej_scheduler_metrics(scheduler, &metrics) == EJ_OK && metrics.fires_cron == 0);
    CHECK(ej_scheduler_metrics(NULL, &metrics) == EJ_INVALID_ARGUMENT);
    CHECK(ej_scheduler_metrics(scheduler, NULL) == EJ_INVALID_ARGUMENT);
    ej_scheduler_options options = {0};
    options.metrics_listen = "nowhere";
    ej_scheduler *bad = NULL;
    CHECK(ej_scheduler_new_simple(registry, config, execute, NULL, &options, &bad) == EJ_INVALID_ARGUMENT);
    CHECK(bad == NULL && strstr(ej_last_error(), "metrics_listen") != NULL);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: metrics_test ZK\n");
        return 2;
    }
    zk = argv[1];
    RUN(the_snapshot_and_the_endpoint_match_the_executions);
    RUN(without_an_endpoint_there_is_a_snapshot_but_no_port);
    printf("%d passed, 0 failed\n", passed);
    return 0;
}
