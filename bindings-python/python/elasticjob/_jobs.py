"""The kinds of job and the hooks a job can have, as base classes to
subclass: what the scheduler calls and when. A plain function is a simple
job too; any of the methods may be ``async def``.
"""

from __future__ import annotations

from typing import Any, Callable, List, Union

from ._native import ShardingContext, ShardingContexts


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

    def fetch(self, ctx: ShardingContext) -> Any:
        """Returns the next batch for the item (a list, or an awaitable of
        one); empty when there is no more data."""
        raise NotImplementedError("subclasses of DataflowJob implement fetch(ctx)")

    def process(self, ctx: ShardingContext, items: List[Any]) -> Any:
        """Processes one batch."""
        raise NotImplementedError("subclasses of DataflowJob implement process(ctx, items)")


class ScriptJob:
    """A job that runs the prop ``script.command.line`` per item (no shell),
    with the sharding context as JSON in the last argument."""


class HttpJob:
    """A job that sends one HTTP request per item, configured by the props
    ``http.uri``, ``http.method`` (both required), ``http.data``,
    ``http.content.type``, ``http.connect.timeout.milliseconds`` and
    ``http.read.timeout.milliseconds``; the sharding context travels as JSON
    in the ``shardingContext`` header. A non-2xx answer fails the run."""


Handler = Callable[[ShardingContext], Any]
"""A simple job as a function of the item's context (may be ``async def``)."""

Job = Union[SimpleJob, DataflowJob, ScriptJob, HttpJob, Handler]


class ShardingStrategy:
    """A sharding strategy of your own (ElasticJob's ``JobShardingStrategy``).

    Register it with ``JobScheduler(..., sharding_strategies={"NAME": strategy})``
    in every instance; a job whose ``job_sharding_strategy_type`` is ``"NAME"``
    is sharded by it. Only the leader calls it, once per resharding. A plain
    function with the same signature works too; either may be ``async def``.
    """

    def sharding(self, instances: List[str], total: int, job_name: str) -> Any:
        """Returns instance id -> items (``dict[str, list[int]]``, or an
        awaitable of one), every item of ``range(total)`` exactly once, only
        ids from ``instances`` (given in ElasticJob's order). A wrong answer
        or an exception is reported as an error event and nothing is
        reassigned."""
        raise NotImplementedError("subclasses of ShardingStrategy implement sharding(instances, total, job_name)")


StrategyFunction = Callable[[List[str], int, str], Any]
Strategy = Union[ShardingStrategy, StrategyFunction]


class JobListener:
    """ElasticJob's ``ElasticJobListener``: called on this instance before its
    first handler of a fire and after its last one ended, once per fire with
    all of this instance's items (:class:`ShardingContexts`).

    Override either method (plain or ``async def``); a job class may also
    define them itself. An exception is reported as an ``ErrorEvent`` and
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


Listener = Union[JobListener, DistributeOnceJobListener]
