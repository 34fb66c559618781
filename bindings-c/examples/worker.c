/* A C worker for the README: joins job "orders" on ZooKeeper and prints
 * each item it runs. Build it against the installed library (pkg-config or
 * CMake, see the README) or with `make -C bindings-c/examples`; run
 * `worker 127.0.0.1:2181` (or set ELASTICJOB_ZK); stop with Ctrl-C or SIGTERM,
 * which leaves the cluster at once so the other instances take the items. */
#include "elasticjob.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static volatile sig_atomic_t stop = 0;

static void on_signal(int sig) {
    (void)sig;
    stop = 1;
}

/* Runs on a library worker thread; several items may run at once. */
static int execute(const ej_sharding_context *ctx, void *user_data) {
    (void)user_data;
    printf("fire %lld: item %u (%s)\n", (long long)ctx->fire_time, ctx->sharding_item, ctx->sharding_parameter);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    const char *servers = argc > 1 ? argv[1] : getenv("ELASTICJOB_ZK");
    if (servers == NULL) servers = "127.0.0.1:2181";
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    if (ej_registry_zookeeper_new(servers, "elasticjob-demo", 0, &registry) != EJ_OK ||
        ej_job_config_new("orders", "0/5 * * * * ?", 4, &config) != EJ_OK ||
        ej_job_config_set(config, "shardingItemParameters", "0=Beijing,1=Shanghai,2=Guangzhou,3=Shenzhen") != EJ_OK ||
        ej_job_config_set(config, "failover", "true") != EJ_OK ||
        ej_scheduler_new_simple(registry, config, execute, NULL, NULL, &scheduler) != EJ_OK ||
        ej_scheduler_start(scheduler) != EJ_OK) {
        fprintf(stderr, "elasticjob: %s\n", ej_last_error());
        return 1;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    printf("instance %s joined job orders (elasticjob %s)\n", ej_scheduler_instance_id(scheduler), ej_version());
    fflush(stdout);
    while (!stop) sleep(1);
    ej_scheduler_free(scheduler); /* shuts down first */
    ej_job_config_free(config);
    ej_registry_free(registry);
    return 0;
}
