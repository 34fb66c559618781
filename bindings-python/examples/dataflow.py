"""A dataflow job: each item fetches its share of pending rows in batches
and processes them, until nothing is left (``streaming.process``). Runs one
fire by hand, waits for every item to finish, prints what each processed.

    ELASTICJOB_ZK=127.0.0.1:2181 python examples/dataflow.py
"""

import os
import threading
from typing import Dict, List

import elasticjob

ITEMS = 3
BATCH = 4


class Invoices(elasticjob.DataflowJob):
    """Rows 0..19 are pending; item N owns the rows whose id % 3 == N."""

    def __init__(self) -> None:
        self.pending = set(range(20))
        self.done: Dict[int, List[int]] = {item: [] for item in range(ITEMS)}
        self.lock = threading.Lock()

    def fetch(self, ctx: elasticjob.ShardingContext) -> List[int]:
        with self.lock:
            mine = sorted(row for row in self.pending if row % ctx.sharding_total_count == ctx.sharding_item)
            return mine[:BATCH]

    def process(self, ctx: elasticjob.ShardingContext, items: List[int]) -> None:
        with self.lock:
            self.pending.difference_update(items)
            self.done[ctx.sharding_item].extend(items)


def main() -> None:
    registry = elasticjob.ZookeeperRegistry(os.environ.get("ELASTICJOB_ZK", "127.0.0.1:2181"), "elasticjob-examples")
    config = elasticjob.JobConfig("invoices", "", ITEMS, props={"streaming.process": "true"}, overwrite=True)
    job = Invoices()
    with elasticjob.JobScheduler(registry, config, job) as scheduler:
        scheduler.trigger()
        finished = 0
        while finished < ITEMS:
            event = scheduler.next_event(10)
            if event is None:
                raise SystemExit("no execution within 10 s")
            if isinstance(event, elasticjob.Execution):
                finished += 1
                print(f"item {event.item}: {event.outcome}, rows {job.done[event.item]}", flush=True)
    print(f"pending rows left: {len(job.pending)}")


if __name__ == "__main__":
    main()
