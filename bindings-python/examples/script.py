"""A script job: each item runs a command (no shell) with its sharding
context as JSON in the last argument; a non-zero exit fails the run (the
error ends with its last line of stderr), and what it printed is the
execution's ``output``. Runs one fire by hand and prints each outcome and
output: the item whose parameter is ``broken`` fails.

    ELASTICJOB_ZK=127.0.0.1:2181 python examples/script.py
"""

import os
import sys
from pathlib import Path

import elasticjob

COMMAND = f"{sys.executable} {Path(__file__).with_name('script_item.py')}"


def main() -> None:
    registry = elasticjob.ZookeeperRegistry(os.environ.get("ELASTICJOB_ZK", "127.0.0.1:2181"), "elasticjob-examples")
    config = elasticjob.JobConfig("thumbnails", "", 3, sharding_item_parameters="0=small,1=large,2=broken",
                                  props={"script.command.line": COMMAND}, overwrite=True)
    with elasticjob.JobScheduler(registry, config, elasticjob.ScriptJob()) as scheduler:
        scheduler.trigger()
        finished = 0
        while finished < 3:
            event = scheduler.next_event(10)
            if event is None:
                raise SystemExit("no execution within 10 s")
            if isinstance(event, elasticjob.Execution):
                finished += 1
                print(f"item {event.item}: {event.outcome}" + (f" ({event.error})" if event.error else ""), flush=True)
                if event.output:
                    print(event.output, flush=True)


if __name__ == "__main__":
    main()
