"""Ctrl-C and asyncio cancellation reach a start that waits on a server
that accepts connections and never answers: the wait ends at once, and the
start is undone behind it."""

import asyncio
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import elasticjob


class BlackHole:
    """A loopback listener that accepts connections and never answers."""

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.accepted = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.accepted.append(self.server.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.server.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def black_hole():
    hole = BlackHole()
    yield hole
    hole.close()


CONNECT = textwrap.dedent(
    """
    import sys, elasticjob
    registry = elasticjob.ZookeeperRegistry(sys.argv[1], "py-interrupt", session_timeout=60.0, connection_timeout=60.0)
    scheduler = elasticjob.JobScheduler(registry, elasticjob.JobConfig("j", "", 1), lambda ctx: None)
    print("connecting", flush=True)
    try:
        scheduler.start()
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    """
)


def test_sigint_interrupts_a_start_that_waits_on_a_silent_server(black_hole):
    child = subprocess.Popen([sys.executable, "-c", CONNECT, black_hole.address], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "connecting"
        time.sleep(1.0)
        assert child.poll() is None, "the start ended before the interrupt"
        sent = time.monotonic()
        child.send_signal(signal.SIGINT)
        line = child.stdout.readline().strip()
        took = time.monotonic() - sent
        assert line == "interrupted", line
        assert took < 1.0, f"KeyboardInterrupt came {took:.2f} s after SIGINT"
        assert child.wait(timeout=10) == 0
    finally:
        child.kill()
        child.wait()


def test_an_asyncio_start_never_blocks_the_loop_and_a_cancelled_one_is_undone(black_hole):
    registry = elasticjob.ZookeeperRegistry(black_hole.address, "py-interrupt", session_timeout=60.0,
                                            connection_timeout=60.0)
    scheduler = elasticjob.AsyncJobScheduler(registry, elasticjob.JobConfig("j", "", 1), lambda ctx: None)

    async def main() -> int:
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        started = time.monotonic()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(scheduler.start(), 1.0)
        assert time.monotonic() - started < 2
        ticker.cancel()
        return ticks

    ticks = asyncio.run(main())
    assert ticks >= 10, f"the loop ticked {ticks} times in a second of connecting"
    deadline = time.monotonic() + 2
    while not scheduler.is_shut_down:
        assert time.monotonic() < deadline, "a cancelled start is undone"
        time.sleep(0.02)
