"""The blocking API: :class:`JobScheduler` (and its one-off variant), and
what it shares with the asyncio API: turning a job object into native
handlers, the properties, and shutting down what is still running when the
interpreter exits.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import _results, _signals
from ._errors import ElasticJobError, JobExecutionError
from ._jobs import DataflowJob, DistributeOnceJobListener, HttpJob, Job, Listener, ScriptJob, ShardingStrategy, SimpleJob, Strategy
from ._loop import HandlerLoop
from ._native import JobConfig, Metrics, Registry
from ._native import _exiting as _native_exiting
from ._native import Scheduler as _Native
from ._results import Event, HistoryStats


class SchedulerBase:
    """What both scheduler flavours share; see :class:`JobScheduler`."""

    _ONE_OFF = False

    def __init__(
        self,
        registry: Registry,
        config: JobConfig,
        job: Job,
        *,
        instance_id: Optional[str] = None,
        max_parallel: Optional[int] = None,
        sharding_strategies: Optional[Mapping[str, Strategy]] = None,
        listeners: Sequence[Listener] = (),
        history: Optional[str] = None,
        metrics_listen: Optional[str] = None,
        handle_signals: bool = True,
    ) -> None:
        self._loop = HandlerLoop()
        self._handle_signals = handle_signals
        wrap = self._loop.wrap
        strategies = {
            name: wrap(strategy.sharding if isinstance(strategy, ShardingStrategy) else strategy)
            for name, strategy in (sharding_strategies or {}).items()
        }
        plain, once = _listener_hooks(job, listeners, wrap)
        self._native = _Native(
            registry, config, instance_id=instance_id, max_parallel=max_parallel, history=history,
            metrics_listen=metrics_listen, sharding_strategies=strategies, listeners=plain, once_listeners=once,
            one_off=self._ONE_OFF, **_handlers(job, wrap),
        )
        self._listeners: List[Callable[[Event], None]] = []
        self._error_handlers: List[Callable[[JobExecutionError], None]] = []
        self._dispatcher: Optional[threading.Thread] = None

    def _begin_start(self) -> None:
        if self._handle_signals:
            _signals.install()
        _live.add(self)

    def _start_failed(self, error: BaseException) -> None:
        """After a start that raised: an interrupted one (Ctrl-C, a
        cancelled task) goes on in the background and is undone at once."""
        _live.discard(self)
        if not isinstance(error, ElasticJobError):
            self._native.shutdown()

    def _close(self) -> None:
        """Shuts down and waits (at interpreter exit)."""
        self._native.shutdown().wait()

    def add_listener(self, listener: Callable[[Event], None]) -> None:
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
        if self._dispatcher is None:
            self._dispatcher = threading.Thread(target=self._dispatch, name="elasticjob-events", daemon=True)
            self._dispatcher.start()

    def _dispatch(self) -> None:
        while True:
            fields = self._native.next_event(0.5).wait()
            if fields is None:
                if self.is_shut_down:
                    return
                continue
            event = _results.event(fields)
            for listener in list(self._listeners):
                listener(event)
            if isinstance(event, _results.Thrown):
                error = thrown_error(event.execution)
                for handler in list(self._error_handlers):
                    handler(error)
            if isinstance(event, _results.Stopped):
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

    @property
    def history_stats(self) -> Optional[HistoryStats]:
        """The execution history's counters, or None without a history."""
        stats = self._native.history_stats
        return None if stats is None else HistoryStats(**stats)

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


class JobScheduler(SchedulerBase):
    """Runs one job in this process: registers the instance, fires on the
    cron schedule, and runs this instance's items in parallel, each handler
    call on a worker thread (``async def`` ones on the binding's own loop;
    see :class:`AsyncJobScheduler` to run them on yours).

    Use as a context manager, or call :meth:`start` and :meth:`shutdown`.
    Schedulers still running when the interpreter exits are shut down, and
    with ``handle_signals`` (the default) SIGTERM exits the way Ctrl-C does,
    so both leave the cluster at once (see the README's "Python").

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

    def start(self) -> JobScheduler:
        """Connects, registers this instance and starts firing; returns self.

        A registry that cannot be reached raises :class:`RegistryUnavailable`
        within the registry's ``connection_timeout``. Ctrl-C interrupts the
        wait at once; the interrupted start is then undone in the background.
        """
        self._begin_start()
        try:
            self._native.start().wait()
        except BaseException as error:
            self._start_failed(error)
            raise
        return self

    def trigger(self) -> None:
        """Runs this instance's items once, now."""
        self._native.trigger().wait()

    def shutdown(self) -> None:
        """Finishes running items, gives up leadership and leaves the cluster."""
        try:
            self._native.shutdown().wait()
        finally:
            _live.discard(self)

    def next_event(self, timeout: float = 1.0) -> Optional[Event]:
        """The next event, or None after ``timeout`` seconds (0 to 86400)."""
        fields = self._native.next_event(timeout).wait()
        return None if fields is None else _results.event(fields)

    def __enter__(self) -> JobScheduler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


class OneOffJobScheduler(JobScheduler):
    """ElasticJob's ``OneOffJobBootstrap``: a job without cron (a non-empty
    ``cron`` is a :class:`ConfigError`) that runs only when :meth:`execute`
    is called. Start it on every instance as usual."""

    _ONE_OFF = True

    def execute(self) -> None:
        """Runs the job once now on every live instance, each running its own
        items (trigger requests under ``trigger/``, as Java's ``execute``)."""
        self._native.execute_all().wait()


def thrown_error(execution: _results.Execution) -> JobExecutionError:
    """The exception a THROW error handler receives for a failed run."""
    return JobExecutionError(
        f"job {execution.job_name!r} item {execution.item} failed: {execution.error}", execution
    )


def _handlers(job: Job, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> Dict[str, Any]:
    """The native scheduler's handler arguments for a job object."""
    if isinstance(job, DataflowJob):
        return {"fetch": wrap(job.fetch), "process": wrap(job.process)}
    if isinstance(job, ScriptJob):
        return {"script": True}
    if isinstance(job, HttpJob):
        return {"http": True}
    if isinstance(job, SimpleJob):
        return {"execute": wrap(job.execute)}
    if callable(job):
        return {"execute": wrap(job)}
    raise TypeError(f"invalid job `{job!r}`: expected a SimpleJob, DataflowJob, ScriptJob, HttpJob or a callable")


PlainHooks = Tuple[Optional[Callable[..., Any]], Optional[Callable[..., Any]]]
OnceHooks = Tuple[Optional[Callable[..., Any]], Optional[Callable[..., Any]], int, int]


def _listener_hooks(
    job: object, listeners: Sequence[object], wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
) -> Tuple[List[PlainHooks], List[OnceHooks]]:
    """Splits listeners into plain (before, after) pairs and distributed-once
    ones with their timeouts; a job that defines the listener methods is one."""
    plain: List[PlainHooks] = []
    once: List[OnceHooks] = []
    for listener in [job, *listeners]:
        if isinstance(listener, DistributeOnceJobListener):
            once.append((
                wrap(listener.do_before_job_executed_at_last_started),
                wrap(listener.do_after_job_executed_at_last_completed),
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
        plain.append((before and wrap(before), after and wrap(after)))
    return plain, once


_live: weakref.WeakSet[SchedulerBase] = weakref.WeakSet()

# atexit runs its hooks last-registered first: this one runs after
# _shutdown_all, once nothing of ours needs Python any more.
atexit.register(_native_exiting)


@atexit.register
def _shutdown_all() -> None:
    for scheduler in list(_live):
        scheduler._close()
