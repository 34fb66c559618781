"""The lifecycle API for jobs running anywhere in the namespace, with the
listings as dataclasses. Calls block with the GIL released and Ctrl-C let
through; a registry that cannot be reached raises
:class:`RegistryUnavailable` within its connection timeout.
"""

from __future__ import annotations

import getpass
from datetime import datetime, timezone
from typing import List, Optional

from ._native import Operator as _Native
from ._native import Registry
from ._results import Backfill, InstanceBrief, ItemBrief, JobBrief, PauseNote


class Operator:
    """Trigger, pause/resume, disable/enable, shut down and remove jobs; list their state."""

    def __init__(self, registry: Registry) -> None:
        self._native = _Native(registry)

    def trigger(self, job_name: str, overlap: Optional[str] = None) -> None:
        """Asks every live instance of the job to run its items now. An item
        still running runs once more when it ends, unless ``overlap`` says
        otherwise: ``"SKIP"`` leaves it out, ``"CANCEL_OTHER"`` tells its run
        to stop and runs it once that returned."""
        self._native.trigger(job_name, overlap)

    def pause(
        self, job_name: str, reason: str = "", *, by: Optional[str] = None, until: Optional[datetime] = None
    ) -> None:
        """Pauses the job on every instance of ours from its next fire, with a
        note: ``by`` (default: the login name), ``reason``, and ``until`` (an
        aware :class:`~datetime.datetime`) when it resumes by itself. Fires a
        pause holds are never caught up; triggers still run."""
        if until is not None and until.tzinfo is None:
            raise ValueError(f"until `{until}` must be timezone-aware (say which zone it is in)")
        until_ms = None if until is None else int(until.timestamp() * 1000)
        self._native.pause(job_name, by if by is not None else getpass.getuser(), reason, until_ms)

    def resume(self, job_name: str) -> bool:
        """Resumes a paused job from its next fire; returns whether it was paused."""
        return self._native.resume(job_name)

    def pause_note(self, job_name: str) -> Optional[PauseNote]:
        """The note of the job's pause in force, or ``None``."""
        return PauseNote.of(self._native.pause_note(job_name))

    def backfill(
        self,
        job_name: str,
        start: datetime,
        end: Optional[datetime] = None,
        *,
        by: Optional[str] = None,
        overlap: Optional[str] = None,
    ) -> str:
        """Runs the job for every fire of its cron in ``[start, end)`` (aware
        datetimes; ``end`` defaults to now and may not be in the future) on
        every item, oldest first per item, each (item, fire) once, beside the
        schedule; returns the backfill's id. An item still running when a
        fire's turn comes is waited for, or with ``overlap="SKIP"`` left out
        of that fire."""
        for name, when in (("start", start), ("end", end)):
            if when is not None and when.tzinfo is None:
                raise ValueError(f"{name} `{when}` must be timezone-aware (say which zone it is in)")
        end_ms = int(datetime.now(timezone.utc).timestamp() * 1000) if end is None else int(end.timestamp() * 1000)
        who = by if by is not None else getpass.getuser()
        return self._native.backfill(job_name, int(start.timestamp() * 1000), end_ms, who, overlap)

    def backfills(self, job_name: str) -> List[Backfill]:
        """The job's backfills, oldest first, with how far each went."""
        return [Backfill.of(fields) for fields in self._native.backfills(job_name)]

    def cancel_backfill(self, job_name: str, backfill_id: str) -> None:
        """Forgets a backfill: its runs in flight finish, no more start."""
        self._native.cancel_backfill(job_name, backfill_id)

    def disable(self, job_name: str, server_ip: Optional[str] = None) -> None:
        """Disables the job on one server, or everywhere."""
        self._native.disable(job_name, server_ip)

    def enable(self, job_name: str, server_ip: Optional[str] = None) -> None:
        """Enables the job on one server, or everywhere."""
        self._native.enable(job_name, server_ip)

    def disable_item(self, job_name: str, item: int) -> None:
        """Stops one item from running."""
        self._native.disable_item(job_name, item)

    def enable_item(self, job_name: str, item: int) -> None:
        """Lets a disabled item run again."""
        self._native.enable_item(job_name, item)

    def shutdown(self, job_name: str, server_ip: Optional[str] = None) -> None:
        """Shuts the job's instances down on one server, or everywhere."""
        self._native.shutdown(job_name, server_ip)

    def remove(self, job_name: str, server_ip: Optional[str] = None) -> None:
        """Removes a server from the job, or the whole job."""
        self._native.remove(job_name, server_ip)

    def jobs(self) -> List[JobBrief]:
        """Every job of the namespace."""
        return [JobBrief.of(fields) for fields in self._native.jobs()]

    def instances(self, job_name: str) -> List[InstanceBrief]:
        """The live instances of a job."""
        return [InstanceBrief(**fields) for fields in self._native.instances(job_name)]

    def items(self, job_name: str) -> List[ItemBrief]:
        """Every item of a job: owner, state, failover taker."""
        return [ItemBrief(**fields) for fields in self._native.items(job_name)]
