"""A Python worker: run it in several terminals (or next to Rust, Node and
C workers with the same job name and namespace) and watch the items spread.

    python examples/worker.py 127.0.0.1:2181
"""

import logging
import sys
import time

import elasticjob

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")


class Orders(elasticjob.SimpleJob):
    def execute(self, ctx: elasticjob.ShardingContext) -> None:
        print(f"fire {ctx.fire_time}: item {ctx.sharding_item} ({ctx.sharding_parameter})", flush=True)


def main() -> None:
    servers = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:2181"
    registry = elasticjob.ZookeeperRegistry(servers, "elasticjob-demo")
    config = elasticjob.JobConfig(
        "orders", "0/5 * * * * ?", 4,
        sharding_item_parameters="0=Beijing,1=Shanghai,2=Guangzhou,3=Shenzhen",
        failover=True,
    )
    with elasticjob.JobScheduler(registry, config, Orders()):
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
