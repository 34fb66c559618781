/* A wrong ZooKeeper address: ej_scheduler_start must fail, soon, with a
 * message naming the address and why. Usage: connect_test SERVERS
 * [CONNECTION_TIMEOUT_MS] (with a timeout, the registry is made by
 * ej_registry_zookeeper_new_with). Prints "elapsed_ms N", "status S" and
 * "error MESSAGE"; the Rust side judges them. */
#include "elasticjob.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int execute(const ej_sharding_context *ctx, void *user_data) {
    (void)ctx;
    (void)user_data;
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s SERVERS [CONNECTION_TIMEOUT_MS]\n", argv[0]);
        return 2;
    }
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    ej_zookeeper_options options = {argv[1], "wrong-address", 0, argc == 3 ? (uint32_t)atoi(argv[2]) : 0, NULL};
    if (ej_registry_zookeeper_new_with(&options, &registry) != EJ_OK ||
        ej_job_config_new("unreachable", "0/5 * * * * ?", 2, &config) != EJ_OK ||
        ej_scheduler_new_simple(registry, config, execute, NULL, NULL, &scheduler) != EJ_OK) {
        fprintf(stderr, "set-up failed: %s\n", ej_last_error());
        return 1;
    }
    long long started = now_ms();
    ej_status status = ej_scheduler_start(scheduler);
    printf("elapsed_ms %lld\n", now_ms() - started);
    printf("status %s\n", ej_status_str(status));
    printf("error %s\n", ej_last_error());
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
    return status == EJ_OK ? 1 : 0;
}
