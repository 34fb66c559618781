"""The decorator API: an :class:`App` collects the jobs of one process on one
registry, each declared where its handler is, and runs them together until
the process is told to stop::

    app = elasticjob.App(registry)

    @app.job("orders", cron="0/5 * * * * ?", items=4)
    async def orders(ctx: elasticjob.ShardingContext) -> None:
        ...

    app.run()            # or, inside asyncio: await app.serve()

A declaration only records the job (its configuration is checked at once);
:meth:`App.run` and :meth:`App.serve` build the schedulers, so the same App
serves a blocking program and an asyncio one.
"""

from __future__ import annotations

import asyncio
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Dict, List, Mapping, Optional, Sequence, Type, TypedDict, TypeVar

from . import _signals
from ._async import AsyncJobScheduler
from ._errors import ConfigError
from ._jobs import Handler, Job, Listener, Strategy
from ._native import JobConfig, Registry
from ._scheduler import JobScheduler, SchedulerBase

if TYPE_CHECKING:
    from typing_extensions import Unpack

H = TypeVar("H", bound=Handler)
S = TypeVar("S", bound=SchedulerBase)


class JobOptions(TypedDict, total=False):
    """The keyword arguments of :class:`JobConfig` beyond name, cron and items."""

    sharding_item_parameters: str
    job_parameter: str
    failover: bool
    misfire: bool
    monitor_execution: bool
    max_time_diff_seconds: int
    reconcile_interval_minutes: int
    job_sharding_strategy_type: Optional[str]
    job_error_handler_type: Optional[str]
    job_executor_service_handler_type: Optional[str]
    description: str
    props: Optional[Dict[str, str]]
    disabled: bool
    overwrite: bool
    label: Optional[str]
    static_sharding: bool
    time_zone: Optional[str]


@dataclass(frozen=True)
class _Declared:
    config: JobConfig
    job: Job
    max_parallel: Optional[int]
    listeners: Sequence[Listener]


class App:
    """The jobs of this process on ``registry``. ``instance_id``,
    ``sharding_strategies``, ``history`` and ``metrics_listen`` apply to
    every job (see :class:`JobScheduler`). With ``handle_signals`` (the
    default) SIGINT and SIGTERM make :meth:`run` and :meth:`serve` shut
    every job down gracefully and return."""

    def __init__(
        self,
        registry: Registry,
        *,
        instance_id: Optional[str] = None,
        sharding_strategies: Optional[Mapping[str, Strategy]] = None,
        history: Optional[str] = None,
        metrics_listen: Optional[str] = None,
        handle_signals: bool = True,
    ) -> None:
        self._registry = registry
        self._instance_id = instance_id
        self._strategies = sharding_strategies
        self._history = history
        self._metrics_listen = metrics_listen
        self._handle_signals = handle_signals
        self._declared: List[_Declared] = []

    def job(
        self,
        name: str,
        cron: str = "",
        items: int = 1,
        *,
        max_parallel: Optional[int] = None,
        listeners: Sequence[Listener] = (),
        **options: Unpack[JobOptions],
    ) -> Callable[[H], H]:
        """Declares the decorated function (plain or ``async def``, taking a
        :class:`ShardingContext`) as the simple job ``name`` with ``items``
        items fired by ``cron``; ``options`` are :class:`JobConfig`'s. The
        function is returned unchanged."""
        config = JobConfig(name, cron, items, **options)

        def declare(handler: H) -> H:
            self.add(config, handler, max_parallel=max_parallel, listeners=listeners)
            return handler

        return declare

    def add(self, config: JobConfig, job: Job, *, max_parallel: Optional[int] = None,
            listeners: Sequence[Listener] = ()) -> None:
        """Declares a job of any kind: a :class:`SimpleJob`, :class:`DataflowJob`,
        :class:`ScriptJob`, :class:`HttpJob` or a function."""
        if any(declared.config.job_name == config.job_name for declared in self._declared):
            raise ConfigError(f"invalid jobName `{config.job_name}`: the app already has a job of that name")
        self._declared.append(_Declared(config, job, max_parallel, listeners))

    @property
    def configs(self) -> List[JobConfig]:
        """The declared jobs' configurations, in declaration order."""
        return [declared.config for declared in self._declared]

    def run(self) -> None:
        """Starts every job, then blocks until SIGINT or SIGTERM (with
        ``handle_signals``; else until an exception such as
        ``KeyboardInterrupt``), shuts every job down gracefully and returns.
        A signal while jobs still start stops them too (a second one, while
        they shut down, acts as it would without ``run``)."""
        schedulers = [self._build(JobScheduler, declared) for declared in self._declared]
        try:
            if self._can_handle_signals():
                with _signals.StopRequest(_start_until_stopped.__code__, JobScheduler.start.__code__) as stop:
                    _start_until_stopped(schedulers, stop)
            else:
                for scheduler in schedulers:
                    scheduler.start()
                threading.Event().wait()
        finally:
            # Every one, started or not: the core's shutdown of a start cut
            # short waits for that start and undoes it; of one never started
            # it does nothing.
            for scheduler in reversed(schedulers):
                scheduler.shutdown()

    async def serve(self) -> None:
        """Starts every job on this loop, then waits until SIGINT or SIGTERM
        (with ``handle_signals``) or until the awaiting task is cancelled,
        shuts every job down gracefully and returns (a cancellation is
        raised again)."""
        schedulers = [self._build(AsyncJobScheduler, declared) for declared in self._declared]
        started: List[AsyncJobScheduler] = []
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        signalled = asyncio.Event()

        def stop() -> None:
            signalled.set()
            if task is not None:
                task.cancel()

        handled = [sig for sig in (signal.SIGINT, signal.SIGTERM) if self._can_handle_signals()]
        for sig in handled:
            loop.add_signal_handler(sig, stop)
        try:
            for scheduler in schedulers:
                started.append(await scheduler.start())
            await loop.create_future()
        except asyncio.CancelledError:
            if not signalled.is_set():
                raise
            if task is not None and hasattr(task, "uncancel"):
                task.uncancel()
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)
            for scheduler in reversed(started):
                await scheduler.shutdown()

    def _build(self, kind: Type[S], declared: _Declared) -> S:
        return kind(
            self._registry, declared.config, declared.job, instance_id=self._instance_id,
            max_parallel=declared.max_parallel, sharding_strategies=self._strategies, listeners=declared.listeners,
            history=self._history, metrics_listen=self._metrics_listen, handle_signals=False,
        )

    def _can_handle_signals(self) -> bool:
        return self._handle_signals and threading.current_thread() is threading.main_thread()


def _start_until_stopped(schedulers: Sequence[JobScheduler], stop: _signals.StopRequest) -> None:
    """Starts ``schedulers`` in turn, then waits, until ``stop`` is requested.
    The request is checked between starts and every ``_STOP_CHECK_SECONDS``:
    a signal that arrived while the main thread ran other Python code (where
    its ``KeyboardInterrupt`` might have been dropped) is seen all the same."""
    try:
        for scheduler in schedulers:
            if stop.requested:
                return
            scheduler.start()
        while not stop.requested:
            time.sleep(_STOP_CHECK_SECONDS)
    except KeyboardInterrupt:
        if not stop.requested:
            raise


# How often App.run looks for a stop request its handler could not raise.
_STOP_CHECK_SECONDS = 0.2
