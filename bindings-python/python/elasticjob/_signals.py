"""Graceful on SIGTERM and SIGINT by default.

Python turns SIGINT into ``KeyboardInterrupt``, which unwinds ``with``
blocks and reaches ``atexit``, where every scheduler still running leaves
the cluster (its instance node goes at once, its leadership is released).
SIGTERM, what ``docker stop``, Kubernetes and systemd send, would kill the
process on the spot and leave its instance registered until the session
expires; here it raises ``SystemExit(143)`` instead, which unwinds the same
way. The handler is installed when a scheduler with ``handle_signals=True``
starts, from the main thread only, and only while SIGTERM has its default
action: an application's own handler always wins.
"""

from __future__ import annotations

import signal
import threading
from types import CodeType, FrameType
from typing import Any, Dict, NoReturn, Optional


def install() -> None:
    """Turns SIGTERM into ``SystemExit(128 + SIGTERM)`` unless someone handles it already."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame: Optional[FrameType]) -> NoReturn:
    raise SystemExit(128 + signum)


class StopRequest:
    """SIGINT and SIGTERM as a request to stop, for :meth:`App.run`, while
    entered (from the main thread; the previous handlers come back on exit).

    Python runs a signal handler between any two bytecodes of the main
    thread, also inside a garbage collector's weakref callback or a
    ``__del__``, where an exception is printed and dropped: a plain
    ``KeyboardInterrupt`` could be lost there, and the program would never
    stop. So the handler first records the request in :attr:`requested`,
    which the waiting code checks, and raises ``KeyboardInterrupt`` (to cut
    a wait short) only where it interrupts one of ``waiting``, the code of
    the functions that wait for it.
    """

    _SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, *waiting: CodeType) -> None:
        self.requested = False
        self._waiting = waiting
        self._previous: Dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        for signum in self._SIGNALS:
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
        self._previous.clear()

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        self.requested = True
        if frame is not None and frame.f_code in self._waiting:
            raise KeyboardInterrupt
