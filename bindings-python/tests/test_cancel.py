"""Telling handlers to stop: ``ctx.cancelled`` (sync handlers), asyncio task
cancellation (``async def`` handlers), ``ctx.fencing_token``; and absurd
arguments that must be clear errors, never a ``PanicException`` or a crash.
"""

import _thread
import asyncio
import math
import threading
import time

import pytest

import elasticjob

from conftest import wait_until

TIMEOUT_MS = 300


def timed_config(name: str, items: int = 1) -> elasticjob.JobConfig:
    return elasticjob.JobConfig(name, "", items, props={"executionTimeoutMillis": str(TIMEOUT_MS)})


def executions(scheduler: elasticjob.JobScheduler, count: int, seconds: float = 10.0):
    found = []
    deadline = time.monotonic() + seconds
    while len(found) < count and time.monotonic() < deadline:
        event = scheduler.next_event(0.1)
        if isinstance(event, elasticjob.Execution):
            found.append(event)
    return found


def test_the_context_has_an_int_fencing_token_and_an_unset_signal():
    seen = []

    def handler(ctx):
        seen.append((ctx.fencing_token, ctx.cancelled.is_set(), ctx.cancelled.reason,
                     ctx.cancelled.wait(0.01), ctx.cancelled))

    registry = elasticjob.EmbeddedRegistry("py-ctx")
    with elasticjob.JobScheduler(registry, elasticjob.JobConfig("ctx", "", 2), handler) as scheduler:
        scheduler.trigger()
        wait_until(lambda: len(seen) == 2, 5, "both items")
    for token, is_set, reason, waited, signal in seen:
        assert isinstance(token, int) and token >= 0
        assert (is_set, reason, waited) == (False, None, False)
        assert isinstance(signal, elasticjob.CancelSignal)
        assert "unset" in repr(signal)


def test_fencing_tokens_are_positive_and_grow_across_fires():
    tokens = []
    registry = elasticjob.EmbeddedRegistry("py-fence")
    with elasticjob.JobScheduler(registry, elasticjob.JobConfig("fence", "", 1),
                                 lambda ctx: tokens.append(ctx.fencing_token)) as scheduler:
        for expected in (1, 2, 3):
            scheduler.trigger()
            wait_until(lambda: len(tokens) == expected, 5, f"run {expected}")
    assert all(t > 0 for t in tokens), tokens
    assert tokens == sorted(set(tokens)), f"tokens must grow with every start: {tokens}"


def test_a_sync_handler_polling_ctx_cancelled_sees_the_timeout():
    observed = {}

    def handler(ctx):
        started = time.monotonic()
        while not ctx.cancelled.is_set() and time.monotonic() - started < 5:
            time.sleep(0.01)
        observed.update(set=ctx.cancelled.is_set(), reason=ctx.cancelled.reason,
                        took=time.monotonic() - started)

    registry = elasticjob.EmbeddedRegistry("py-cancel-poll")
    with elasticjob.JobScheduler(registry, timed_config("poll"), handler) as scheduler:
        scheduler.trigger()
        [event] = executions(scheduler, 1)
        assert (event.success, event.outcome, event.error) == (False, "timed_out", "timed out"), event
        wait_until(lambda: observed, 10, "the handler to return")
    assert observed["set"] and observed["reason"] == "timed-out", observed
    assert observed["took"] < 3, f"the handler ran {observed['took']:.1f} s: it was never told to stop"


def test_a_sync_handler_blocked_in_ctx_cancelled_wait_wakes_on_the_timeout():
    observed = {}

    def handler(ctx):
        started = time.monotonic()
        observed.update(woke=ctx.cancelled.wait(5), reason=ctx.cancelled.reason, took=time.monotonic() - started)

    registry = elasticjob.EmbeddedRegistry("py-cancel-wait")
    with elasticjob.JobScheduler(registry, timed_config("wait"), handler) as scheduler:
        scheduler.trigger()
        [event] = executions(scheduler, 1)
        assert event.outcome == "timed_out", event
        wait_until(lambda: observed, 10, "the handler to return")
    assert observed["woke"] and observed["reason"] == "timed-out", observed
    assert observed["took"] < 3, observed


def test_an_async_handler_is_cancelled_as_an_asyncio_task_on_the_timeout():
    observed = {}

    class Slow(elasticjob.SimpleJob):
        async def execute(self, ctx):
            started = time.monotonic()
            try:
                await asyncio.sleep(5)
            except asyncio.CancelledError as cancelled:
                observed.update(cancelled=True, message=str(cancelled.args), reason=ctx.cancelled.reason,
                                took=time.monotonic() - started)
                raise
            observed.update(cancelled=False, took=time.monotonic() - started)

    registry = elasticjob.EmbeddedRegistry("py-cancel-async")
    with elasticjob.JobScheduler(registry, timed_config("async-cancel"), Slow()) as scheduler:
        scheduler.trigger()
        [event] = executions(scheduler, 1)
        assert event.outcome == "timed_out", event
        wait_until(lambda: observed, 10, "the coroutine to end")
    assert observed["cancelled"] and observed["reason"] == "timed-out", observed
    assert "timed-out" in observed["message"], observed
    assert observed["took"] < 3, observed


def test_the_binding_loop_cancels_an_async_handler_when_its_signal_fires():
    """The asyncio half on its own: a signal firing on another thread
    cancels the handler's task through the loop (call_soon_threadsafe)."""
    from elasticjob._loop import HandlerLoop

    class Signal:
        def __init__(self):
            self.callbacks = []

        def _on_cancel(self, callback):
            self.callbacks.append(callback)

    signal, observed = Signal(), {}

    async def handler():
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as cancelled:
            observed["message"] = str(cancelled.args)
            observed["thread"] = threading.current_thread().name
            raise

    fire = threading.Timer(0.2, lambda: [callback("timed-out") for callback in signal.callbacks])
    fire.start()
    started = time.monotonic()
    with pytest.raises(BaseException) as raised:
        HandlerLoop().run(handler(), signal)
    fire.join()
    assert "Cancelled" in type(raised.value).__name__
    assert time.monotonic() - started < 5
    assert "timed-out" in observed["message"] and observed["thread"] == "elasticjob-asyncio", observed


def test_waiting_on_the_main_thread_can_be_interrupted_by_ctrl_c():
    signals = []
    registry = elasticjob.EmbeddedRegistry("py-ctrl-c")
    with elasticjob.JobScheduler(registry, elasticjob.JobConfig("ctrl-c", "", 1),
                                 lambda ctx: signals.append(ctx.cancelled)) as scheduler:
        scheduler.trigger()
        wait_until(lambda: signals, 5, "the run")
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        signals[0].wait(30)
    assert time.monotonic() - started < 5
    timer.join()


ABSURD_SECONDS = [1e300, math.nan, -1.0, math.inf, -math.inf]


@pytest.mark.parametrize("value", ABSURD_SECONDS + [0.0, 601.0])
@pytest.mark.parametrize("parameter", ["session_timeout", "connection_timeout"])
def test_absurd_registry_timeouts_are_value_errors_naming_the_parameter(parameter, value):
    with pytest.raises(ValueError, match=parameter):
        elasticjob.ZookeeperRegistry("127.0.0.1:1", "ns", **{parameter: value})


def test_registry_timeouts_of_the_wrong_type_are_type_errors():
    with pytest.raises(TypeError, match="session_timeout"):
        elasticjob.ZookeeperRegistry("127.0.0.1:1", "ns", session_timeout="soon")
    elasticjob.ZookeeperRegistry("127.0.0.1:1", "ns", session_timeout=600, connection_timeout=0.5)


@pytest.mark.parametrize("value", ABSURD_SECONDS + [86401.0])
def test_absurd_waits_are_value_errors_naming_the_parameter(value):
    signals = []
    registry = elasticjob.EmbeddedRegistry("py-absurd-wait")
    with elasticjob.JobScheduler(registry, elasticjob.JobConfig("absurd", "", 1),
                                 lambda ctx: signals.append(ctx.cancelled)) as scheduler:
        with pytest.raises(ValueError, match="timeout"):
            scheduler.next_event(value)
        scheduler.trigger()
        wait_until(lambda: signals, 5, "the run")
    with pytest.raises(ValueError, match="timeout"):
        signals[0].wait(value)
    with pytest.raises(TypeError):
        signals[0].wait("soon")


@pytest.mark.parametrize("count", [2147483647, 100001])
def test_item_counts_above_the_maximum_are_value_errors(count):
    with pytest.raises(ValueError) as raised:
        elasticjob.JobConfig("huge", "", count)
    assert "shardingTotalCount" in str(raised.value) and str(count) in str(raised.value)
    with pytest.raises(ValueError, match=str(count)):
        elasticjob.JobConfig.from_yaml(f"jobName: huge\nshardingTotalCount: {count}\n")
    assert elasticjob.JobConfig("big", "", 100000).sharding_total_count == 100000


def test_a_timed_out_handler_that_ignores_the_signal_is_never_doubled():
    """Scenario j: the core tells the handler to stop at the timeout, but a
    Python thread cannot be killed; the item stays running here until the
    call returns, so no fire starts it again meanwhile."""
    lock = threading.Lock()
    state = {"running": 0, "max": 0, "runs": []}

    def handler(ctx):
        with lock:
            state["running"] += 1
            state["max"] = max(state["max"], state["running"])
        started = time.monotonic()
        time.sleep(1.5)  # ignores ctx.cancelled on purpose
        with lock:
            state["running"] -= 1
            state["runs"].append((started, time.monotonic(), ctx.cancelled.reason))

    config = elasticjob.JobConfig("never-doubled", "* * * * * ?", 1, props={"executionTimeoutMillis": "200"})
    registry = elasticjob.EmbeddedRegistry("py-never-doubled")
    with elasticjob.JobScheduler(registry, config, handler):
        wait_until(lambda: len(state["runs"]) >= 2, 10, "two runs of the item")
    assert state["max"] == 1, state
    runs = sorted(state["runs"])
    for (_, ended, reason), (next_start, _, _) in zip(runs, runs[1:]):
        assert next_start >= ended - 0.01, f"a run started before the timed-out one returned: {runs}"
        assert reason == "timed-out"
