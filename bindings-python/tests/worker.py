"""A Python test worker: joins a job on ZooKeeper and records every item
run in the execution ledger (the same JSON lines the Rust, Node and C
workers write). Prints ``ready <instance-id>`` once registered. It installs
no signal handler: SIGTERM shuts it down gracefully by the binding's default."""

import argparse
import asyncio
import json
import time

import elasticjob


def now_ms() -> int:
    return int(time.time() * 1000)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zk", required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("--job")
    parser.add_argument("--items", type=int)
    parser.add_argument("--cron")
    parser.add_argument("--config-yaml", help="job configuration YAML; replaces job, items, cron")
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--sleep-ms", type=int, default=100)
    parser.add_argument("--session-timeout-ms", type=int, default=2000)
    parser.add_argument("--failover", default="true")
    parser.add_argument("--fail-item", type=int, default=None)
    parser.add_argument("--fail-attempts", type=int, default=None, help="--fail-item fails attempts up to this one only")
    parser.add_argument("--use-async", default="false")
    parser.add_argument("--lang", default="python")
    args = parser.parse_args()

    registry = elasticjob.ZookeeperRegistry(args.zk, args.namespace, session_timeout=args.session_timeout_ms / 1000)
    if args.config_yaml:
        with open(args.config_yaml) as f:
            config = elasticjob.JobConfig.from_yaml(f.read())
    else:
        config = elasticjob.JobConfig(
            args.job, args.cron, args.items, failover=args.failover == "true", overwrite=True
        )
    instance = {"id": ""}

    def record(phase: str, ctx: elasticjob.ShardingContext) -> None:
        line = json.dumps({
            "phase": phase, "job": ctx.job_name, "item": ctx.sharding_item, "fire": ctx.fire_time if ctx.fire_time_known else -1,
            "instance": instance["id"], "lang": args.lang, "at": now_ms(), "attempt": ctx.attempt,
        })
        with open(args.ledger, "a") as ledger:
            ledger.write(line + "\n")

    def fails(ctx: elasticjob.ShardingContext) -> bool:
        return ctx.sharding_item == args.fail_item and (args.fail_attempts is None or ctx.attempt <= args.fail_attempts)

    class SyncJob(elasticjob.SimpleJob):
        def execute(self, ctx):
            record("start", ctx)
            time.sleep(args.sleep_ms / 1000)
            if fails(ctx):
                raise RuntimeError(f"planted failure in item {ctx.sharding_item}")
            record("end", ctx)

    class AsyncJob(elasticjob.SimpleJob):
        async def execute(self, ctx):
            record("start", ctx)
            await asyncio.sleep(args.sleep_ms / 1000)
            if fails(ctx):
                raise RuntimeError(f"planted failure in item {ctx.sharding_item}")
            record("end", ctx)

    job = AsyncJob() if args.use_async == "true" else SyncJob()
    scheduler = elasticjob.JobScheduler(registry, config, job)
    instance["id"] = scheduler.instance_id
    with scheduler:
        print(f"ready {scheduler.instance_id}", flush=True)
        while True:
            time.sleep(0.2)


if __name__ == "__main__":
    main()
