"""The asyncio API: :class:`AsyncJobScheduler`. Every operation is awaited
without blocking the loop (the native layer runs it and calls back, and
the callback hands the outcome to the loop), and ``async def`` handlers
run as tasks of the loop that started the scheduler.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Optional

from . import _results
from ._native import Call
from ._results import Event
from ._scheduler import SchedulerBase, _live


class AsyncJobScheduler(SchedulerBase):
    """Runs one job in this process, for asyncio applications::

        async with elasticjob.AsyncJobScheduler(registry, config, job) as scheduler:
            await stop.wait()

    Takes the arguments of :class:`JobScheduler`. ``async def`` handlers,
    listeners and strategies run on the loop that called :meth:`start`, so
    they can await the application's own futures and clients; plain ones
    run on worker threads. Nothing here blocks the loop, and cancelling a
    task that awaits :meth:`start` undoes the start.
    """

    async def start(self) -> AsyncJobScheduler:
        """Connects, registers this instance and starts firing; returns self.
        A registry that cannot be reached raises :class:`RegistryUnavailable`."""
        self._loop.loop = asyncio.get_running_loop()
        self._begin_start()
        try:
            await _outcome(self._native.start())
        except BaseException as error:
            self._start_failed(error)
            raise
        return self

    async def trigger(self) -> None:
        """Runs this instance's items once, now."""
        await _outcome(self._native.trigger())

    async def shutdown(self) -> None:
        """Finishes running items, gives up leadership and leaves the cluster.
        Running ``async def`` handlers go on on this loop meanwhile."""
        try:
            await _outcome(self._native.shutdown())
        finally:
            _live.discard(self)

    async def next_event(self, timeout: float = 1.0) -> Optional[Event]:
        """The next event, or None after ``timeout`` seconds (0 to 86400)."""
        fields = await _outcome(self._native.next_event(timeout))
        return None if fields is None else _results.event(fields)

    async def events(self) -> AsyncIterator[Event]:
        """Every event until the scheduler stopped (the last is :class:`Stopped`)."""
        while True:
            event = await self.next_event(0.5)
            if event is None:
                if self.is_shut_down:
                    return
                continue
            yield event
            if isinstance(event, _results.Stopped):
                return

    async def __aenter__(self) -> AsyncJobScheduler:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()


class AsyncOneOffJobScheduler(AsyncJobScheduler):
    """:class:`OneOffJobScheduler` for asyncio: runs only when :meth:`execute` is awaited."""

    _ONE_OFF = True

    async def execute(self) -> None:
        """Runs the job once now on every live instance, each running its own items."""
        await _outcome(self._native.execute_all())


async def _outcome(call: Call) -> Any:
    """Awaits a native operation: its callback runs on a library thread and
    hands the value or the exception over to this loop."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: Optional[BaseException]) -> None:
        if not future.done():
            if error is None:
                future.set_result(value)
            else:
                future.set_exception(error)

    def hand_over(value: Any, error: Optional[BaseException]) -> None:
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:
            pass  # the loop is closed: nobody awaits this any more

    call.then(hand_over)
    return await future
