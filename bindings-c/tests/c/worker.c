/* A C test worker: joins a job on ZooKeeper and appends every item run to
 * the execution ledger (the JSON lines all language workers write).
 * Usage: worker ZK NAMESPACE JOB ITEMS CRON LEDGER SLEEP_MS SESSION_TIMEOUT_MS [CONFIG_YAML_FILE]
 * (the YAML file, when given, replaces JOB, ITEMS and CRON).
 * Prints "ready <instance-id>" once registered; SIGTERM shuts it down. */
#include "elasticjob.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

struct worker {
    const char *ledger;
    const char *instance_id;
    int sleep_ms;
};

static volatile sig_atomic_t stop = 0;

static void on_term(int sig) {
    (void)sig;
    stop = 1;
}

static long long now_ms(void) {
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void record(const struct worker *w, const char *phase, const ej_sharding_context *ctx) {
    char line[512];
    int n = snprintf(line, sizeof line,
                     "{\"phase\":\"%s\",\"job\":\"%s\",\"item\":%u,\"fire\":%lld,\"instance\":\"%s\",\"lang\":\"c\",\"at\":%lld}\n",
                     phase, ctx->job_name, ctx->sharding_item, ctx->fire_time_known ? (long long)ctx->fire_time : -1LL, w->instance_id, now_ms());
    int fd = open(w->ledger, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        if (write(fd, line, (size_t)n) != n) perror("ledger");
        close(fd);
    }
}

static int execute(const ej_sharding_context *ctx, void *user_data) {
    const struct worker *w = user_data;
    record(w, "start", ctx);
    usleep((useconds_t)w->sleep_ms * 1000);
    record(w, "end", ctx);
    return 0;
}

/* The whole file as a NUL-terminated string, or NULL. */
static char *read_file(const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    if (text && fread(text, 1, (size_t)size, file) == (size_t)size) {
        text[size] = '\0';
    } else {
        free(text);
        text = NULL;
    }
    fclose(file);
    return text;
}

int main(int argc, char **argv) {
    if (argc != 9 && argc != 10) {
        fprintf(stderr, "usage: %s ZK NAMESPACE JOB ITEMS CRON LEDGER SLEEP_MS SESSION_TIMEOUT_MS [CONFIG_YAML_FILE]\n", argv[0]);
        return 2;
    }
    struct worker w = {argv[6], NULL, atoi(argv[7])};
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    char *yaml = argc == 10 ? read_file(argv[9]) : NULL;
    ej_status configured = yaml ? ej_job_config_from_yaml(yaml, &config)
                                : ej_job_config_new(argv[3], argv[5], atoi(argv[4]), &config);
    free(yaml);
    if (configured != EJ_OK ||
        ej_registry_zookeeper_new(argv[1], argv[2], (uint32_t)atoi(argv[8]), &registry) != EJ_OK ||
        (argc == 9 && ej_job_config_set(config, "failover", "true") != EJ_OK) ||
        (argc == 9 && ej_job_config_set(config, "overwrite", "true") != EJ_OK) ||
        ej_scheduler_new_simple(registry, config, execute, &w, NULL, &scheduler) != EJ_OK) {
        fprintf(stderr, "worker set-up failed: %s\n", ej_last_error());
        return 1;
    }
    w.instance_id = ej_scheduler_instance_id(scheduler);
    signal(SIGTERM, on_term);
    if (ej_scheduler_start(scheduler) != EJ_OK) {
        fprintf(stderr, "worker start failed: %s\n", ej_last_error());
        return 1;
    }
    printf("ready %s\n", w.instance_id);
    fflush(stdout);
    while (!stop) usleep(100 * 1000);
    ej_scheduler_shutdown(scheduler);
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
    return 0;
}
