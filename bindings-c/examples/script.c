/* A script job: each item runs a program (no shell unless you ask for
 * one) with the sharding context as a JSON argument; a non-zero exit fails
 * the run (the message ends with its last line of stderr), and the ends of
 * its stdout and stderr are the event's output. Runs on the embedded
 * registry and prints each run's outcome and output from the events.
 *   make -C bindings-c/examples script && bindings-c/examples/script */
#include <elasticjob.h>

#include <stdio.h>

int main(void) {
    ej_registry *registry = NULL;
    ej_job_config *config = NULL;
    ej_scheduler *scheduler = NULL;
    /* `sh -c SCRIPT NAME CONTEXT`: the context arrives as $1. Item 1 fails on purpose. */
    const char *command =
        "sh -c 'echo \"report for $1\"; case \"$1\" in *south*) echo \"no data\" >&2; exit 2;; esac' report";
    if (ej_registry_embedded_new("examples", &registry) != EJ_OK ||
        ej_job_config_new("nightly-report", "* * * * * ?", 2, &config) != EJ_OK ||
        ej_job_config_set(config, "shardingItemParameters", "0=north,1=south") != EJ_OK ||
        ej_job_config_set(config, "props.script.command.line", command) != EJ_OK ||
        ej_scheduler_new_script(registry, config, NULL, &scheduler) != EJ_OK ||
        ej_scheduler_start(scheduler) != EJ_OK) {
        fprintf(stderr, "%s\n", ej_last_error());
        return 1;
    }
    int seen[2] = {0, 0};
    ej_event event = {0};
    while (!(seen[0] && seen[1]) && ej_scheduler_next_event(scheduler, 5000, &event) == EJ_OK &&
           event.kind != EJ_EVENT_NONE) {
        if (event.kind == EJ_EVENT_EXECUTION && event.item < 2 && !seen[event.item]) {
            seen[event.item] = 1;
            if (event.success) {
                printf("item %u: succeeded\n", event.item);
            } else {
                printf("item %u: failed: %s\n", event.item, event.message ? event.message : "");
            }
            if (event.output) printf("%s\n", event.output);
        }
        ej_event_clear(&event);
    }
    ej_scheduler_free(scheduler);
    ej_job_config_free(config);
    ej_registry_free(registry);
    printf("done\n");
    return 0;
}
