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
from types import FrameType
from typing import NoReturn, Optional


def install() -> None:
    """Turns SIGTERM into ``SystemExit(128 + SIGTERM)`` unless someone handles it already."""
    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame: Optional[FrameType]) -> NoReturn:
    raise SystemExit(128 + signum)
