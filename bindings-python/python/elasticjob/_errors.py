"""The exceptions elasticjob raises: one class per kind of failure, all under
:class:`ElasticJobError`. The native layer raises these very classes (its
``errors.rs`` maps each core error kind to one of them), so ``except
elasticjob.RegistryUnavailable`` works wherever the failure started.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from ._results import Execution


class ElasticJobError(Exception):
    """Base of every error elasticjob raises."""


class ConfigError(ElasticJobError, ValueError):
    """A configuration or an argument was refused; the message names the
    field and its value. Also a ``ValueError``, as bad values are in Python."""


class RegistryError(ElasticJobError):
    """The registry (ZooKeeper) refused or failed a request."""


class RegistryUnavailable(RegistryError):
    """The registry cannot be reached: connecting failed (refused,
    unresolvable, timed out; the message says which) or the connection was
    lost and the outcome of the request is unknown. ``address`` is the
    ZooKeeper connect string, when known."""

    def __init__(self, message: str, address: Optional[str] = None) -> None:
        super().__init__(message)
        self.address = address


class SessionExpired(RegistryError):
    """The registry session expired or was closed."""


class NotAuthorized(RegistryError):
    """A registry node is restricted to other digest credentials."""


class IllegalState(ElasticJobError):
    """The scheduler is not in a state that allows the operation (not
    started, already started, shut down)."""


class JobExecutionError(ElasticJobError):
    """A failed item run. With ``job_error_handler_type="THROW"`` every failed
    or timed-out run is handed to the error handlers as one of these, with
    the run in ``execution`` (its ``error`` and ``traceback`` included)."""

    def __init__(self, message: str, execution: Optional[Execution] = None) -> None:
        super().__init__(message)
        self.execution = execution


class ShardingStrategyError(ElasticJobError):
    """A sharding strategy gave no usable assignment; nothing was reassigned."""


class HistoryError(ElasticJobError):
    """The execution history database failed."""

