"""The asyncio API: ``async with``, awaited operations, ``async def``
handlers on the caller's own loop (they can await its futures), plain
handlers on worker threads, events as an async iterator."""

import asyncio
import threading

import elasticjob


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, 30))


async def next_execution(scheduler: elasticjob.AsyncJobScheduler) -> elasticjob.Execution:
    while True:
        event = await scheduler.next_event(10)
        assert event is not None, "no execution within 10 s"
        if isinstance(event, elasticjob.Execution):
            return event


def test_an_async_handler_awaits_a_future_of_the_callers_loop():
    seen = {}

    async def main() -> elasticjob.Execution:
        loop = asyncio.get_running_loop()
        gate = loop.create_future()

        async def handler(ctx: elasticjob.ShardingContext) -> None:
            seen["loop"] = asyncio.get_running_loop() is loop
            seen["value"] = await gate

        config = elasticjob.JobConfig("gated", "", 1)
        async with elasticjob.AsyncJobScheduler(elasticjob.EmbeddedRegistry("py-aio-gate"), config, handler) as scheduler:
            await scheduler.trigger()
            await asyncio.sleep(0.2)
            assert "value" not in seen, "the handler waits for the app's future"
            gate.set_result("opened")
            return await next_execution(scheduler)

    execution = run(main())
    assert execution.success, execution
    assert seen == {"loop": True, "value": "opened"}


def test_a_plain_handler_runs_on_a_worker_thread_not_on_the_loop():
    threads = []

    async def main() -> None:
        config = elasticjob.JobConfig("plain", "", 2)
        handler = lambda ctx: threads.append(threading.get_ident())  # noqa: E731
        async with elasticjob.AsyncJobScheduler(elasticjob.EmbeddedRegistry("py-aio-plain"), config, handler) as scheduler:
            await scheduler.trigger()
            for _ in range(2):
                await next_execution(scheduler)

    run(main())
    assert len(threads) == 2 and threading.main_thread().ident not in threads


def test_shutdown_lets_a_running_coroutine_finish_on_the_loop():
    finished = []

    async def main() -> None:
        async def slow(ctx: elasticjob.ShardingContext) -> None:
            await asyncio.sleep(0.5)
            finished.append(ctx.sharding_item)

        config = elasticjob.JobConfig("slow", "", 1)
        scheduler = await elasticjob.AsyncJobScheduler(elasticjob.EmbeddedRegistry("py-aio-slow"), config, slow).start()
        await scheduler.trigger()
        await asyncio.sleep(0.1)
        await scheduler.shutdown()
        assert scheduler.is_shut_down

    run(main())
    assert finished == [0]


def test_events_end_with_stopped_and_a_failure_carries_its_traceback():
    async def main() -> list:
        async def broken(ctx: elasticjob.ShardingContext) -> None:
            await asyncio.sleep(0)
            raise LookupError(f"no row for item {ctx.sharding_item}")

        config = elasticjob.JobConfig("broken", "", 1)
        scheduler = elasticjob.AsyncJobScheduler(elasticjob.EmbeddedRegistry("py-aio-events"), config, broken)
        events = []

        async def collect() -> None:
            async for event in scheduler.events():
                events.append(event)
                if isinstance(event, elasticjob.Execution):
                    await scheduler.shutdown()

        async with scheduler:
            await scheduler.trigger()
            await asyncio.wait_for(collect(), 10)
        return events

    events = run(main())
    assert isinstance(events[-1], elasticjob.Stopped), events
    [failed] = [e for e in events if isinstance(e, elasticjob.Execution)]
    assert failed.outcome == "failed" and failed.error == "LookupError: no row for item 0"
    assert "in broken\n" in failed.traceback and failed.traceback.startswith("Traceback (most recent call last):")


def test_a_second_start_is_an_illegal_state():
    async def main() -> None:
        config = elasticjob.JobConfig("twice", "", 1)
        async with elasticjob.AsyncJobScheduler(elasticjob.EmbeddedRegistry("py-aio-twice"), config,
                                                lambda ctx: None) as scheduler:
            try:
                await scheduler.start()
            except elasticjob.IllegalState as error:
                assert "already started" in str(error)
            else:
                raise AssertionError("a second start must fail")

    run(main())
