"""What the API returns, as frozen dataclasses and TypedDicts with the
core's field names: events, execution records, the operator's listings and
the history's counters. The native layer hands over dicts whose keys are
these fields (``events.rs``, ``operator.rs``); this module builds the objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, List, Literal, Mapping, Optional, Tuple, TypedDict, Union

Outcome = Literal["succeeded", "failed", "timed_out", "cancelled"]

_TRACEBACK_HEADER = "Traceback (most recent call last):"


@dataclass(frozen=True)
class Execution:
    """One finished item run (also the record handed to error handlers).

    ``error`` is the failure in one line or a few (``ValueError: bad row``,
    ``timed out``, ``cancelled: shutdown``), ``traceback`` the whole Python
    traceback when the handler raised; both None when it succeeded.
    ``output`` is what a :class:`ScriptJob` run printed: the ends of its
    stdout and stderr, labelled (``--- stdout ---``), each cut to its last
    2,000 characters; None for other jobs or when it printed nothing.
    """

    job_name: str
    item: int
    fire_time: int
    instance_id: str
    failover: bool
    fencing_token: int
    attempt: int
    started_at: int
    finished_at: int
    outcome: Outcome
    error: Optional[str] = None
    traceback: Optional[str] = None
    output: Optional[str] = None

    @property
    def success(self) -> bool:
        """Whether the handler returned normally."""
        return self.outcome == "succeeded"


@dataclass(frozen=True)
class Thrown:
    """A failed run of a job whose ``job_error_handler_type`` is ``"THROW"``
    (it follows the run's :class:`Execution` event)."""

    execution: Execution


@dataclass(frozen=True)
class Sharded:
    """This instance, as leader, wrote a new assignment: instance id -> items."""

    assignment: Dict[str, List[int]]


@dataclass(frozen=True)
class Misfired:
    """A fire came while these items still ran; they run once more after."""

    items: List[int]
    fire_time: int


@dataclass(frozen=True)
class StuckItems:
    """As leader, this instance resharded although these items (item ->
    runner) still ran after waiting ``waited`` seconds."""

    items: Dict[int, str]
    waited: float


@dataclass(frozen=True)
class ErrorEvent:
    """Something went wrong outside a handler (registry trouble, a listener
    that raised, clock skew, ...)."""

    message: str


@dataclass(frozen=True)
class Stopped:
    """The scheduler stopped (asked to, or by an operator)."""


Event = Union[Execution, Thrown, Sharded, Misfired, StuckItems, ErrorEvent, Stopped]


@dataclass(frozen=True)
class PauseNote:
    """Why, by whom, since and until when a job is paused (``until`` None: until resumed)."""

    by: str
    reason: str
    at: datetime
    until: Optional[datetime]

    @staticmethod
    def of(fields: Optional[Mapping[str, Any]]) -> Optional["PauseNote"]:
        if fields is None:
            return None
        until = fields["until"]
        return PauseNote(
            by=fields["by"],
            reason=fields["reason"],
            at=_instant(fields["at"]),
            until=None if until is None else _instant(until),
        )


@dataclass(frozen=True)
class Backfill:
    """A backfill of the job's fires in ``[start, end)``, asked for ``by`` someone
    ``at`` a time with its ``overlap`` policy, and how far it went: ``started``
    (or skipped) of ``total`` (item, fire) runs."""

    id: str
    start: datetime
    end: datetime
    by: str
    at: datetime
    overlap: str
    fires: int
    started: int
    total: int
    done: bool

    @staticmethod
    def of(fields: Mapping[str, Any]) -> "Backfill":
        return Backfill(
            id=fields["id"],
            start=_instant(fields["from"]),
            end=_instant(fields["to"]),
            by=fields["by"],
            at=_instant(fields["at"]),
            overlap=fields["overlap"],
            fires=fields["fires"],
            started=fields["started"],
            total=fields["total"],
            done=fields["done"],
        )


def _instant(millis: int) -> datetime:
    return datetime.fromtimestamp(millis / 1000, tz=timezone.utc)


@dataclass(frozen=True)
class JobBrief:
    """A job of the namespace. ``status``: ``OK``, ``STOPPED`` (its last instance left gracefully),
    ``CRASHED``, ``DISABLED``, ``SHARDING_FLAG`` or ``PAUSED`` (``pause`` says why)."""

    job_name: str
    cron: str
    sharding_total_count: int
    description: str
    status: str
    instance_count: int
    pause: Optional[PauseNote] = None

    @staticmethod
    def of(fields: Mapping[str, Any]) -> "JobBrief":
        values = dict(fields)
        values["pause"] = PauseNote.of(values.get("pause"))
        return JobBrief(**values)


@dataclass(frozen=True)
class InstanceBrief:
    """A live instance of a job."""

    instance_id: str
    server_ip: str
    leader: bool
    enabled: bool


@dataclass(frozen=True)
class ItemBrief:
    """An item of a job. ``state``: ``RUNNING``, ``PENDING``, ``DISABLED`` or ``SHARDING_FLAG``."""

    item: int
    instance_id: Optional[str]
    state: str
    failover_instance: Optional[str]


@dataclass(frozen=True)
class HistoryStats:
    """The execution history's counters. ``dropped`` counts records lost
    while the database could not take them (the buffer is bounded); fires
    never wait for the database."""

    written: int
    dropped: int
    pending: int
    failed_writes: int
    last_error: Optional[str]


class FireCounts(TypedDict):
    """Fires that started items here, by what fired them."""

    cron: int
    trigger: int
    misfire: int


class ExecutionCounts(TypedDict):
    """Finished runs here, by outcome."""

    succeeded: int
    failed: int
    timed_out: int
    cancelled: int


class ReconnectCounts(TypedDict):
    """Registry comebacks: the same session (``connection``) or a new one (``session``)."""

    connection: int
    session: int


class HistoryCounts(TypedDict):
    """The history's counters as the metrics carry them."""

    written: int
    dropped: int
    pending: int
    failed_writes: int


def split_failure(text: str) -> Tuple[str, Optional[str]]:
    """(error, traceback) of a failure's text: a Python traceback is kept
    whole and its closing ``Type: message`` lines are the error."""
    if not text.startswith(_TRACEBACK_HEADER):
        return text, None
    tail: List[str] = []
    for line in reversed(text.splitlines()):
        if line.startswith((" ", "\t", _TRACEBACK_HEADER)):
            break
        tail.append(line)
    return "\n".join(reversed(tail)), text


def execution(fields: Mapping[str, Any]) -> Execution:
    """An :class:`Execution` from the native layer's fields."""
    values = {name: value for name, value in fields.items() if name not in ("type", "error")}
    text = fields["error"]
    error, traceback = (None, None) if text is None else split_failure(text)
    return Execution(**values, error=error, traceback=traceback)


def event(fields: Mapping[str, Any]) -> Event:
    """The event a native dict describes (its ``type`` key names the class)."""
    kind = fields["type"]
    if kind == "execution":
        return execution(fields)
    if kind == "thrown":
        return Thrown(execution(fields))
    if kind == "sharding":
        return Sharded(fields["assignment"])
    if kind == "misfire":
        return Misfired(fields["items"], fields["fire_time"])
    if kind == "stuck":
        return StuckItems(fields["items"], fields["waited"])
    if kind == "error":
        return ErrorEvent(fields["message"])
    if kind == "stopped":
        return Stopped()
    raise ValueError(f"invalid event type `{kind}` from the native layer")
