"""elasticjob: distributed cron jobs split into shards over every live instance.

Subclass :class:`SimpleJob` (or :class:`DataflowJob`), describe the job with
:class:`JobConfig`, and run it with :class:`JobScheduler` on a
:class:`ZookeeperRegistry` shared with workers in any language::

    class MyJob(elasticjob.SimpleJob):
        def execute(self, ctx):
            print(ctx.sharding_item, ctx.sharding_parameter)

    registry = elasticjob.ZookeeperRegistry("127.0.0.1:2181", "my-namespace")
    config = elasticjob.JobConfig("orders", "0/5 * * * * ?", 4)
    with elasticjob.JobScheduler(registry, config, MyJob()):
        time.sleep(60)
"""

from __future__ import annotations

import asyncio
import atexit
import inspect
import threading
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from ._native import (
    CancelSignal,
    ElasticJobError,
    EmbeddedRegistry,
    Histogram,
    JobConfig,
    Metrics,
    Operator,
    Registry,
    ShardingContext,
    ShardingContexts,
    ZookeeperRegistry,
)
from ._native import Scheduler as _Scheduler

__all__ = [
    "CancelSignal",
    "DataflowJob",
    "DistributeOnceJobListener",
    "ElasticJobError",
    "EmbeddedRegistry",
    "Histogram",
    "HttpJob",
    "JobConfig",
    "JobExecutionError",
    "JobListener",
    "JobScheduler",
    "Metrics",
    "OneOffJobScheduler",
    "Operator",
    "Registry",
    "ScriptJob",
    "ShardingContext",
    "ShardingContexts",
    "ShardingStrategy",
    "SimpleJob",
    "ZookeeperRegistry",
]


class SimpleJob:
    """A job that runs :meth:`execute` once per item and fire.

    A run may be told to stop (execution timeout, registry session lost, item
    moved to another instance, shutdown): a plain ``execute`` checks
    ``ctx.cancelled.is_set()`` or waits with ``ctx.cancelled.wait(seconds)``
    and returns early; an ``async def execute`` is cancelled like any asyncio
    task (``asyncio.CancelledError`` is raised at its current ``await``).
    """

    def execute(self, ctx: ShardingContext) -> Any:
        """Runs one item. May be ``async def``. An exception fails this run only."""
        raise NotImplementedError("subclasses of SimpleJob implement execute(ctx)")


class DataflowJob:
    """A job that fetches data for its item and processes it.

    With the prop ``streaming.process=true`` it keeps fetching and processing
    until :meth:`fetch` returns an empty list.
    """

    def fetch(self, ctx: ShardingContext) -> List[Any]:
        """Returns the next batch for the item; empty when there is no more data."""
        raise NotImplementedError("subclasses of DataflowJob implement fetch(ctx)")

    def process(self, ctx: ShardingContext, items: List[Any]) -> Any:
        """Processes one batch."""
        raise NotImplementedError("subclasses of DataflowJob implement process(ctx, items)")


class ScriptJob:
    """A job that runs the prop ``script.command.line`` per item, with the
    sharding context as JSON in the last argument."""


class HttpJob:
    """A job that sends one HTTP request per item, configured by the props
    ``http.uri``, ``http.method`` (both required), ``http.data``,
    ``http.content.type``, ``http.connect.timeout.milliseconds`` and
    ``http.read.timeout.milliseconds``; the sharding context travels as JSON
    in the ``shardingContext`` header. A non-2xx answer fails the run."""


class JobExecutionError(ElasticJobError):
    """A failed item run of a job whose ``job_error_handler_type`` is
    ``"THROW"``, handed to the callables given to
    :meth:`JobScheduler.add_error_handler`."""

    def __init__(self, event: Dict[str, Any]) -> None:
        super().__init__(f"job {event['job_name']!r} item {event['item']} failed: {event['error']}")
        self.job_name: str = event["job_name"]
        self.item: int = event["item"]
        self.fire_time: int = event["fire_time"]
        self.instance_id: str = event["instance_id"]
        self.failover: bool = event["failover"]
        self.error: str = event["error"]


class ShardingStrategy:
    """A sharding strategy of your own (ElasticJob's ``JobShardingStrategy``).

    Register it with ``JobScheduler(..., sharding_strategies={"NAME": strategy})``
    in every instance; a job whose ``job_sharding_strategy_type`` is ``"NAME"``
    is sharded by it. Only the leader calls it, once per resharding. A plain
    function with the same signature works too; either may be ``async def``.
    """

    def sharding(self, instances: List[str], total: int, job_name: str) -> Dict[str, List[int]]:
        """Returns instance id -> items, every item of ``range(total)`` exactly
        once, only ids from ``instances`` (given in ElasticJob's order). A wrong
        answer or an exception is reported as an error event and nothing is
        reassigned."""
        raise NotImplementedError("subclasses of ShardingStrategy implement sharding(instances, total, job_name)")


StrategyFunction = Callable[[List[str], int, str], Any]


class JobListener:
    """ElasticJob's ``ElasticJobListener``: called on this instance before its
    first handler of a fire and after its last one ended, once per fire with
    all of this instance's items (:class:`ShardingContexts`).

    Override either method (plain or ``async def``); a job class may also
    define them itself. An exception is reported as an ``error`` event and
    never fails the job; a call is cut off after 60 s.
    """

    def before_job_executed(self, contexts: ShardingContexts) -> Any:
        """Before this instance runs its items of a fire."""

    def after_job_executed(self, contexts: ShardingContexts) -> Any:
        """After all of this instance's items of the fire ended."""


class DistributeOnceJobListener:
    """ElasticJob's ``AbstractDistributeOnceElasticJobListener``: each hook
    runs once per fire across the whole cluster, on the instance that
    completes the set of items. Instances wait for the others at most
    ``started_timeout_milliseconds`` / ``completed_timeout_milliseconds``
    (both must be positive: a crashed instance costs the others that long),
    then go on and report the timeout. At most one per job.
    """

    def __init__(self, started_timeout_milliseconds: int, completed_timeout_milliseconds: int) -> None:
        self.started_timeout_milliseconds = started_timeout_milliseconds
        self.completed_timeout_milliseconds = completed_timeout_milliseconds

    def do_before_job_executed_at_last_started(self, contexts: ShardingContexts) -> Any:
        """Once every item of the fire has started somewhere."""

    def do_after_job_executed_at_last_completed(self, contexts: ShardingContexts) -> Any:
        """Once every item of the fire has completed somewhere."""


def _listener_hooks(
    job: Any, listeners: Sequence[Any]
) -> Tuple[List[Tuple[Any, Any]], List[Tuple[Any, Any, int, int]]]:
    """Splits listeners into plain (before, after) pairs and distributed-once
    ones with their timeouts; a job that defines the listener methods is one."""
    plain: List[Tuple[Any, Any]] = []
    once: List[Tuple[Any, Any, int, int]] = []
    for listener in [job, *listeners]:
        if isinstance(listener, DistributeOnceJobListener):
            once.append((
                _sync(listener.do_before_job_executed_at_last_started),
                _sync(listener.do_after_job_executed_at_last_completed),
                listener.started_timeout_milliseconds,
                listener.completed_timeout_milliseconds,
            ))
            continue
        before = getattr(listener, "before_job_executed", None)
        after = getattr(listener, "after_job_executed", None)
        if before is None and after is None:
            if listener is job:
                continue
            raise TypeError(
                f"invalid listener `{listener!r}`: expected a JobListener or a DistributeOnceJobListener"
            )
        plain.append((before and _sync(before), after and _sync(after)))
    return plain, once


class _EventLoop:
    """The asyncio loop, owned by the binding, that runs ``async def`` handlers."""

    _lock = threading.Lock()
    _loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    def run(cls, awaitable: Any, signal: Optional[CancelSignal] = None) -> Any:
        """Runs ``awaitable`` as a task of the loop and waits for its result;
        the task is cancelled when ``signal`` is set."""
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="elasticjob-asyncio", daemon=True).start()
                cls._loop = loop
        return asyncio.run_coroutine_threadsafe(cls._as_task(awaitable, signal), cls._loop).result()

    @staticmethod
    async def _as_task(awaitable: Any, signal: Optional[CancelSignal]) -> Any:
        task = asyncio.ensure_future(awaitable)
        if signal is not None:
            loop = asyncio.get_running_loop()

            def cancel(reason: str) -> None:
                # Called on a library thread: only the loop's own thread may
                # touch the task, so hand the cancellation over to it.
                try:
                    loop.call_soon_threadsafe(task.cancel, f"elasticjob: run cancelled ({reason})")
                except RuntimeError:
                    pass  # the loop is closed: the interpreter is exiting

            signal._on_cancel(cancel)
        return await task


def _sync(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wraps a handler method so coroutines it returns run to completion on
    the binding's loop, cancelled when the run's ``ctx.cancelled`` is set."""

    def call(*args: Any) -> Any:
        result = method(*args)
        if inspect.isawaitable(result):
            signal = getattr(args[0], "cancelled", None) if args else None
            return _EventLoop.run(result, signal)
        return result

    return call


_live: "weakref.WeakSet[JobScheduler]" = weakref.WeakSet()


@atexit.register
def _shutdown_all() -> None:
    for scheduler in list(_live):
        scheduler.shutdown()


class JobScheduler:
    """Runs one job in this process: registers the instance, fires on the
    cron schedule, and runs this instance's items in parallel.

    Use as a context manager, or call :meth:`start` and :meth:`shutdown`.
    Schedulers still running when the interpreter exits are shut down.

    ``max_parallel`` bounds how many of this instance's items run at once and
    wins over the configuration's ``job_executor_service_handler_type``
    (``CPU``: twice the CPU count; ``SINGLE_THREAD``: one). ``sharding_strategies``
    maps names to :class:`ShardingStrategy` objects or functions; a job whose
    ``job_sharding_strategy_type`` is one of the names is sharded by it.
    ``listeners`` takes :class:`JobListener` and (at most one)
    :class:`DistributeOnceJobListener` objects.
    ``history`` keeps an execution history: ``"sqlite:///path/history.db"``
    or ``"postgres://user@host:port/db"`` (see :attr:`history_stats`).
    ``metrics_listen`` (``"127.0.0.1:9464"``; port 0 picks a free one) serves
    the metrics of every scheduler of this process as Prometheus text on
    ``/metrics`` (one endpoint per process; see :attr:`metrics`).
    """

    _ONE_OFF = False

    def __init__(
        self,
        registry: Registry,
        config: JobConfig,
        job: Any,
        *,
        instance_id: Optional[str] = None,
        max_parallel: Optional[int] = None,
        sharding_strategies: Optional[Mapping[str, Union[ShardingStrategy, StrategyFunction]]] = None,
        listeners: Sequence[Any] = (),
        history: Optional[str] = None,
        metrics_listen: Optional[str] = None,
    ) -> None:
        strategies = {
            name: _sync(strategy.sharding if isinstance(strategy, ShardingStrategy) else strategy)
            for name, strategy in (sharding_strategies or {}).items()
        }
        handlers: Dict[str, Any] = {}
        if isinstance(job, DataflowJob):
            handlers = {"fetch": _sync(job.fetch), "process": _sync(job.process)}
        elif isinstance(job, ScriptJob):
            handlers = {"script": True}
        elif isinstance(job, HttpJob):
            handlers = {"http": True}
        elif isinstance(job, SimpleJob):
            handlers = {"execute": _sync(job.execute)}
        elif callable(job):
            handlers = {"execute": _sync(job)}
        else:
            raise TypeError(
                f"invalid job `{job!r}`: expected a SimpleJob, DataflowJob, ScriptJob, HttpJob or a callable"
            )
        plain, once = _listener_hooks(job, listeners)
        self._native = _Scheduler(
            registry, config, instance_id=instance_id, max_parallel=max_parallel, history=history,
            metrics_listen=metrics_listen,
            sharding_strategies=strategies, listeners=plain, once_listeners=once, one_off=self._ONE_OFF, **handlers
        )
        self._listeners: List[Callable[[Dict[str, Any]], None]] = []
        self._error_handlers: List[Callable[[JobExecutionError], None]] = []
        self._listener_thread: Optional[threading.Thread] = None

    def start(self) -> "JobScheduler":
        """Registers this instance and starts firing; returns self."""
        self._native.start()
        _live.add(self)
        return self

    def trigger(self) -> None:
        """Runs this instance's items once, now."""
        self._native.trigger()

    def shutdown(self) -> None:
        """Finishes running items, gives up leadership and leaves the cluster."""
        self._native.shutdown()
        _live.discard(self)

    @property
    def history_stats(self) -> Optional[Dict[str, Any]]:
        """The execution history's counters (``written``, ``dropped``,
        ``pending``, ``failed_writes``, ``last_error``), or None without a
        history. ``dropped`` counts records lost while the database could not
        take them (the buffer is bounded); fires never wait for the database."""
        return self._native.history_stats

    @property
    def metrics(self) -> Metrics:
        """What this scheduler did so far: ``fires`` and ``executions`` by
        kind and outcome, the ``fire_lag`` and ``handler_duration``
        histograms (seconds), ``misfires``, ``failovers_taken``, ``reshards``,
        ``errors``, ``items_owned``, ``items_running``, ``session_state``,
        ``reconnects`` and the ``history`` counters; the same figures the
        ``/metrics`` endpoint serves."""
        return self._native.metrics

    @property
    def metrics_address(self) -> Optional[str]:
        """``IP:PORT`` of this process's metrics endpoint, or None if this
        scheduler did not ask for one with ``metrics_listen``."""
        return self._native.metrics_address

    def next_event(self, timeout: float = 1.0) -> Optional[Dict[str, Any]]:
        """The next event (``type``: execution, thrown, sharding, misfire, error, stuck, stopped) or None."""
        return self._native.next_event(timeout)

    def add_listener(self, listener: Callable[[Dict[str, Any]], None]) -> None:
        """Calls ``listener(event)`` on a background thread for every event."""
        self._listeners.append(listener)
        self._start_dispatch()

    def add_error_handler(self, handler: Callable[[JobExecutionError], None]) -> None:
        """With ``job_error_handler_type="THROW"``, calls ``handler(error)``
        on a background thread with a :class:`JobExecutionError` for every
        failed or timed-out item run (the same thread as listeners)."""
        self._error_handlers.append(handler)
        self._start_dispatch()

    def _start_dispatch(self) -> None:
        if self._listener_thread is None:
            self._listener_thread = threading.Thread(target=self._dispatch, name="elasticjob-events", daemon=True)
            self._listener_thread.start()

    def _dispatch(self) -> None:
        while True:
            event = self._native.next_event(0.5)
            if event is None:
                if self._native.is_shut_down:
                    return
                continue
            for listener in list(self._listeners):
                listener(event)
            if event["type"] == "thrown":
                error = JobExecutionError(event)
                for handler in list(self._error_handlers):
                    handler(error)
            if event["type"] == "stopped":
                return

    @property
    def instance_id(self) -> str:
        """This instance's id, ``{ip}@-@{pid}`` unless given."""
        return self._native.instance_id

    @property
    def job_name(self) -> str:
        """The job's name."""
        return self._native.job_name

    @property
    def config(self) -> JobConfig:
        """The configuration in force (the registry's unless overwritten)."""
        return self._native.config

    @property
    def is_shut_down(self) -> bool:
        """Whether the scheduler stopped (asked to, or by an operator)."""
        return self._native.is_shut_down

    def __enter__(self) -> "JobScheduler":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()


class OneOffJobScheduler(JobScheduler):
    """ElasticJob's ``OneOffJobBootstrap``: a job without cron (a non-empty
    ``cron`` is a ``ValueError``) that runs only when :meth:`execute` is
    called. Start it on every instance as usual."""

    _ONE_OFF = True

    def execute(self) -> None:
        """Runs the job once now on every live instance, each running its own
        items (trigger requests under ``trigger/``, as Java's ``execute``)."""
        self._native.execute_all()
