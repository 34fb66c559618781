"""The examples and the README's Python quick starts, run as they are with
``ELASTICJOB_ZK`` pointing at a harness ZooKeeper. A snippet or worker that
runs until stopped gets SIGTERM or SIGINT once it has shown work, and must
leave cleanly."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "bindings-python" / "examples"


def readme_snippets():
    text = (ROOT / "README.md").read_text()
    section = text[text.index("\n## Python\n"):text.index("\n## Node.js\n")]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def run(zk, command, *, expect: str, stop_after: float = 0.0, stop_signal=signal.SIGTERM, timeout: float = 60.0):
    """Runs `command`; with `stop_after`, sends `stop_signal` that long
    after `expect` first appeared. Returns (exit code, stdout, stderr)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "ELASTICJOB_ZK": zk})
    try:
        if stop_after:
            deadline = time.monotonic() + timeout
            seen = ""
            while expect not in seen:
                line = process.stdout.readline()
                assert line or process.poll() is None, f"ended early: {seen}{process.stderr.read()}"
                assert time.monotonic() < deadline, f"{expect!r} never appeared: {seen}"
                seen += line
            time.sleep(stop_after)
            process.send_signal(stop_signal)
            out, err = process.communicate(timeout=30)
            return process.returncode, seen + out, err
        out, err = process.communicate(timeout=timeout)
        return process.returncode, out, err
    finally:
        process.kill()
        process.wait()


def test_the_dataflow_example_processes_every_row(zk):
    code, out, err = run(zk, [sys.executable, str(EXAMPLES / "dataflow.py")], expect="")
    assert code == 0, err
    assert len(re.findall(r"item \d: succeeded", out)) == 3 and "pending rows left: 0" in out, out


def test_the_script_example_reports_success_and_the_scripts_error(zk):
    code, out, err = run(zk, [sys.executable, str(EXAMPLES / "script.py")], expect="")
    assert code == 0, err
    assert "item 0: succeeded" in out and "item 1: succeeded" in out, out
    assert re.search(r"item 2: failed \(.*cannot make broken thumbnails\)", out, re.S), out
    # Each run's output: what the script printed, stream by stream.
    assert "--- stdout ---\nmade small thumbnails for item 0" in out, out
    assert "--- stderr ---\ncannot make broken thumbnails" in out, out


@pytest.mark.parametrize("example, expect, exit_code", [
    ("worker.py", "fire ", 0),                             # App.run returns after SIGTERM
    ("async_worker.py", "sent digest", 128 + signal.SIGTERM),  # SIGTERM exits like Ctrl-C
])
def test_the_workers_run_until_sigterm(zk, example, expect, exit_code):
    code, out, err = run(zk, [sys.executable, str(EXAMPLES / example)], expect=expect, stop_after=0.5)
    assert code == exit_code, err
    assert "Traceback" not in err, err


@pytest.mark.parametrize("index, expect", [(0, "sending batch"), (1, "item "), (2, "reindexed item")])
def test_the_readme_quick_starts_run_verbatim(zk, index, expect):
    """The first (the App) runs until Ctrl-C and must then exit cleanly; the
    others end by themselves."""
    snippets = readme_snippets()
    assert len(snippets) == 3, "the README's Python section has the decorator, sync and asyncio quick starts"
    stop_after = 2.0 if "app.run()" in snippets[index] else 0.0
    code, out, err = run(zk, [sys.executable, "-c", snippets[index]], expect=expect, stop_after=stop_after,
                         stop_signal=signal.SIGINT)
    assert code == 0, err
    assert expect in out and "Traceback" not in err, (out, err)
