"""A Python worker declared with the decorator API. Run it in several
terminals (or next to Rust, Node and C workers with the same job name and
namespace) and watch the items spread; Ctrl-C or SIGTERM leaves the cluster
at once and the others take the items over.

    ELASTICJOB_ZK=127.0.0.1:2181 python examples/worker.py
"""

import logging
import os

import elasticjob

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")

registry = elasticjob.ZookeeperRegistry(os.environ.get("ELASTICJOB_ZK", "127.0.0.1:2181"), "elasticjob-demo")
app = elasticjob.App(registry)


@app.job("orders", cron="0/5 * * * * ?", items=4, failover=True,
         sharding_item_parameters="0=Beijing,1=Shanghai,2=Guangzhou,3=Shenzhen")
def orders(ctx: elasticjob.ShardingContext) -> None:
    print(f"fire {ctx.fire_time}: item {ctx.sharding_item} ({ctx.sharding_parameter})", flush=True)


if __name__ == "__main__":
    app.run()
