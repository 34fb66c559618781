"""elasticjob: distributed cron jobs split into shards over every live instance.

Declare jobs on an :class:`App` and run them, blocking or in asyncio::

    app = elasticjob.App(elasticjob.ZookeeperRegistry("127.0.0.1:2181", "my-namespace"))

    @app.job("orders", cron="0/5 * * * * ?", items=4)
    def orders(ctx: elasticjob.ShardingContext) -> None:
        print(ctx.sharding_item, ctx.sharding_parameter)

    app.run()                     # until Ctrl-C or SIGTERM; `await app.serve()` in asyncio

or run one job with :class:`JobScheduler` (``with``) or
:class:`AsyncJobScheduler` (``async with``), given a :class:`JobConfig` and
a :class:`SimpleJob`, :class:`DataflowJob`, :class:`ScriptJob`,
:class:`HttpJob` or a function. Failures raise subclasses of
:class:`ElasticJobError`; results are dataclasses; core logs go to the
``elasticjob`` logger.
"""

from ._app import App, JobOptions
from ._async import AsyncJobScheduler, AsyncOneOffJobScheduler
from ._errors import (
    ConfigError,
    ElasticJobError,
    HistoryError,
    IllegalState,
    JobExecutionError,
    NotAuthorized,
    RegistryError,
    RegistryUnavailable,
    SessionExpired,
    ShardingStrategyError,
)
from ._jobs import (
    DataflowJob,
    DistributeOnceJobListener,
    Handler,
    HttpJob,
    Job,
    JobListener,
    Listener,
    ScriptJob,
    ShardingStrategy,
    SimpleJob,
    Strategy,
)
from ._native import (
    CancelSignal,
    EmbeddedRegistry,
    Histogram,
    JobConfig,
    Metrics,
    Registry,
    ShardingContext,
    ShardingContexts,
    ZookeeperRegistry,
    __version__,
)
from ._operator import Operator
from ._results import (
    Backfill,
    ErrorEvent,
    Event,
    Execution,
    ExecutionCounts,
    FireCounts,
    HistoryCounts,
    HistoryStats,
    InstanceBrief,
    ItemBrief,
    JobBrief,
    Misfired,
    Outcome,
    PauseNote,
    ReconnectCounts,
    Sharded,
    Stopped,
    StuckItems,
    Thrown,
)
from ._scheduler import JobScheduler, OneOffJobScheduler

__all__ = [
    "App",
    "AsyncJobScheduler",
    "AsyncOneOffJobScheduler",
    "CancelSignal",
    "ConfigError",
    "DataflowJob",
    "DistributeOnceJobListener",
    "ElasticJobError",
    "EmbeddedRegistry",
    "ErrorEvent",
    "Event",
    "Execution",
    "ExecutionCounts",
    "FireCounts",
    "Handler",
    "Histogram",
    "HistoryCounts",
    "HistoryError",
    "HistoryStats",
    "HttpJob",
    "IllegalState",
    "InstanceBrief",
    "ItemBrief",
    "Job",
    "JobBrief",
    "JobConfig",
    "JobExecutionError",
    "JobListener",
    "JobOptions",
    "JobScheduler",
    "Listener",
    "Metrics",
    "Misfired",
    "NotAuthorized",
    "OneOffJobScheduler",
    "Operator",
    "Outcome",
    "PauseNote",
    "Backfill",
    "ReconnectCounts",
    "Registry",
    "RegistryError",
    "RegistryUnavailable",
    "ScriptJob",
    "SessionExpired",
    "Sharded",
    "ShardingContext",
    "ShardingContexts",
    "ShardingStrategy",
    "ShardingStrategyError",
    "SimpleJob",
    "Stopped",
    "Strategy",
    "StuckItems",
    "Thrown",
    "ZookeeperRegistry",
    "__version__",
]

for _name in __all__:
    _value = globals()[_name]
    if isinstance(_value, type) and _value.__module__.startswith("elasticjob."):
        _value.__module__ = "elasticjob"
del _name, _value
