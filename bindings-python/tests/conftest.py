"""Fixtures: a real ZooKeeper from the shared harness, worker processes,
and the shared ledger checker."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug"


def tool(name: str) -> str:
    path = TARGET / name
    if not path.exists():
        raise RuntimeError(f"{path} is missing: build it with `cargo build -p zk-harness -p cluster-tests`")
    return str(path)


class Zookeeper:
    """A ZooKeeper server run by the `zk-harness` binary."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [tool("zk-harness")], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline().strip()
        if not line:
            raise RuntimeError("zk-harness did not start ZooKeeper")
        self.connect = line

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=30)


@pytest.fixture
def zk():
    server = Zookeeper()
    yield server.connect
    server.close()


class Worker:
    """A Python worker process (tests/worker.py)."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).parent / "worker.py"), *args],
            stdout=subprocess.PIPE, text=True,
        )
        line = self.process.stdout.readline().strip()
        assert line.startswith("ready "), f"worker did not start: {line!r}"
        self.instance_id = line.split(" ", 1)[1]

    def kill9(self) -> None:
        self.process.kill()
        self.process.wait()

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


@pytest.fixture
def workers():
    started = []

    def start(*args: str) -> Worker:
        worker = Worker(*args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.terminate()


def read_ledger(path: Path):
    if not path.exists():
        return []
    entries = []
    for line in path.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:
            pass
    return entries


def check_ledger(path: Path, job: str, items: int, fires, crashed=(), duplicates_only=False):
    """Runs the shared checker; returns its report (fails the test on a finding)."""
    command = [tool("ledger-check"), "--ledger", str(path), "--job", job, "--items", str(items),
               "--fires", ",".join(str(f) for f in fires), "--crashed", ",".join(crashed)]
    if duplicates_only:
        command.append("--duplicates-only")
    result = subprocess.run(command, capture_output=True, text=True)
    report = json.loads(result.stdout)
    assert result.returncode == 0, f"ledger check failed: {report}"
    return report


def fires_between(start_ms: int, end_ms: int, step_ms: int):
    first = (start_ms // step_ms + 1) * step_ms
    return list(range(first, end_ms, step_ms))


def now_ms() -> int:
    return int(time.time() * 1000)


def wait_until(condition, seconds: float, what: str) -> None:
    """Polls ``condition`` until it holds, failing after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)
