"""An asyncio worker: the handler is a coroutine on the application's own
loop, so it can use the application's queues, clients and futures. Every
item run hands a message to a consumer task of the same loop.

    ELASTICJOB_ZK=127.0.0.1:2181 python examples/async_worker.py
"""

import asyncio
import os

import elasticjob


async def main() -> None:
    registry = elasticjob.ZookeeperRegistry(os.environ.get("ELASTICJOB_ZK", "127.0.0.1:2181"), "elasticjob-demo")
    outbox: "asyncio.Queue[str]" = asyncio.Queue()

    async def consume() -> None:
        while True:
            print(f"sent {await outbox.get()}", flush=True)

    async def notify(ctx: elasticjob.ShardingContext) -> None:
        await outbox.put(f"digest {ctx.sharding_item} of fire {ctx.fire_time}")

    consumer = asyncio.create_task(consume())
    config = elasticjob.JobConfig("digests", "0/2 * * * * ?", 2)
    async with elasticjob.AsyncJobScheduler(registry, config, notify) as scheduler:
        async for event in scheduler.events():
            if isinstance(event, elasticjob.Execution) and not event.success:
                print(f"item {event.item} failed: {event.error}", flush=True)
    consumer.cancel()


if __name__ == "__main__":
    asyncio.run(main())
