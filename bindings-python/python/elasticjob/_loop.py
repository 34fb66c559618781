"""Where ``async def`` handlers, hooks and strategies run. Handlers are
called on the scheduler's worker threads; a coroutine they return is run
as a task of an event loop while that thread waits:

- the loop of the caller, once an :class:`AsyncJobScheduler` started there,
  so a handler can await the application's own futures and clients;
- otherwise the binding's own loop, on a thread of its own.

The task is cancelled when the run's ``ctx.cancelled`` is set.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, Awaitable, Callable, Optional

from ._native import CancelSignal

# How often a waiting worker thread checks that the caller's loop still exists.
_LOOP_CHECK_SECONDS = 0.5


class _BindingLoop:
    """The binding's own asyncio loop, started on first use."""

    _lock = threading.Lock()
    _loop: Optional[asyncio.AbstractEventLoop] = None

    @classmethod
    def get(cls) -> asyncio.AbstractEventLoop:
        with cls._lock:
            if cls._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="elasticjob-asyncio", daemon=True).start()
                cls._loop = loop
            return cls._loop


class HandlerLoop:
    """The loop a scheduler's coroutines run on; ``loop`` is set by an
    :class:`AsyncJobScheduler` when it starts (None: the binding's own)."""

    def __init__(self) -> None:
        self.loop: Optional[asyncio.AbstractEventLoop] = None

    def run(self, awaitable: Awaitable[Any], signal: Optional[CancelSignal] = None) -> Any:
        """Runs ``awaitable`` as a task of the loop and waits for its result
        (called on a worker thread, never on the loop's own)."""
        loop = self.loop or _BindingLoop.get()
        future = asyncio.run_coroutine_threadsafe(_as_task(awaitable, signal), loop)
        while True:
            try:
                return future.result(_LOOP_CHECK_SECONDS)
            except concurrent.futures.TimeoutError:
                if loop.is_closed():
                    future.cancel()
                    raise RuntimeError("the event loop this job's coroutines run on was closed") from None

    def wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        """``method`` as the native layer calls it: a coroutine it returns
        runs to completion here, cancelled when its context's signal is set."""

        def call(*args: Any) -> Any:
            try:
                result = method(*args)
            except BaseException as error:
                # Drop this wrapper's frame: the reported traceback starts in the user's code.
                error.__traceback__ = error.__traceback__.tb_next if error.__traceback__ else None
                raise
            if inspect.isawaitable(result):
                signal = getattr(args[0], "cancelled", None) if args else None
                return self.run(result, signal)
            return result

        return call


async def _as_task(awaitable: Awaitable[Any], signal: Optional[CancelSignal]) -> Any:
    task = asyncio.ensure_future(awaitable)
    if signal is not None:
        loop = asyncio.get_running_loop()

        def cancel(reason: str) -> None:
            # Called on a library thread: only the loop's own thread may
            # touch the task, so hand the cancellation over to it.
            try:
                loop.call_soon_threadsafe(task.cancel, f"elasticjob: run cancelled ({reason})")
            except RuntimeError:
                pass  # the loop is closed: nothing is left to cancel

        signal._on_cancel(cancel)
    return await task
