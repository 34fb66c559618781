"""Process-level behaviour: interpreter exit and Ctrl-C leave the cluster
cleanly, and core logs reach Python's logging."""

import logging
import signal
import subprocess
import sys
import textwrap
import time

import elasticjob

SCRIPT = textwrap.dedent(
    """
    import sys, time, elasticjob
    registry = elasticjob.ZookeeperRegistry(sys.argv[1], "py-lifecycle", session_timeout=30.0)
    config = elasticjob.JobConfig(sys.argv[2], "* * * * * ?", 2)
    scheduler = elasticjob.JobScheduler(registry, config, lambda ctx: None)
    if sys.argv[3] == "exit":
        scheduler.start()
        print("ready", flush=True)
        time.sleep(1.5)
        sys.exit(0)          # no shutdown(): interpreter exit must do it
    with scheduler:
        print("ready", flush=True)
        time.sleep(60)       # interrupted by Ctrl-C
    """
)


def instances(zk, job):
    operator = elasticjob.Operator(elasticjob.ZookeeperRegistry(zk, "py-lifecycle", session_timeout=5.0))
    return operator.instances(job)


def run_until_ready(zk, job, mode):
    process = subprocess.Popen([sys.executable, "-c", SCRIPT, zk, job, mode], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    assert len(instances(zk, job)) == 1
    return process


def test_interpreter_exit_shuts_the_scheduler_down(zk):
    process = run_until_ready(zk, "exits", "exit")
    assert process.wait(timeout=30) == 0
    # The 30 s session has not expired: the instance left by itself.
    assert instances(zk, "exits") == []


def test_ctrl_c_shuts_the_scheduler_down(zk):
    process = run_until_ready(zk, "interrupted", "ctrl-c")
    time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)
    assert instances(zk, "interrupted") == []


def test_core_logs_reach_the_elasticjob_logger(caplog):
    caplog.set_level(logging.INFO, logger="elasticjob")
    config = elasticjob.JobConfig("logged", "", 1)
    with elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("logs"), config, lambda ctx: None):
        deadline = time.time() + 5
        while not any("registered" in r.getMessage() for r in caplog.records) and time.time() < deadline:
            time.sleep(0.05)
    records = [r for r in caplog.records if r.name == "elasticjob"]
    assert any("registered" in r.getMessage() and r.levelno == logging.INFO for r in records), records


def test_sigterm_leaves_at_once_and_another_instance_takes_the_items_over(zk, workers, tmp_path):
    """No handler of the worker's own: the binding's default makes SIGTERM
    a graceful leave, well before the 30 s session would expire."""
    from conftest import now_ms, read_ledger

    ledger = tmp_path / "ledger.jsonl"
    args = ["--zk", zk, "--namespace", "py-sigterm", "--job", "handover", "--items", "4", "--cron", "* * * * * ?",
            "--ledger", str(ledger), "--sleep-ms", "50", "--session-timeout-ms", "30000"]
    survivor, victim = workers(*args), workers(*args)
    operator = elasticjob.Operator(elasticjob.ZookeeperRegistry(zk, "py-sigterm", session_timeout=5.0))
    deadline = time.monotonic() + 20
    while {e["instance"] for e in read_ledger(ledger)} != {survivor.instance_id, victim.instance_id}:
        assert time.monotonic() < deadline, "both workers should run items"
        time.sleep(0.1)
    sent = time.monotonic()
    victim.process.send_signal(signal.SIGTERM)
    assert victim.process.wait(timeout=10) == 128 + signal.SIGTERM
    ids = [i.instance_id for i in operator.instances("handover")]
    assert ids == [survivor.instance_id], ids
    left = time.monotonic() - sent
    assert left < 10, f"the instance took {left:.1f} s to leave"
    after = now_ms() + 1500
    deadline = time.monotonic() + 10
    while {e["item"] for e in read_ledger(ledger) if e["fire"] >= after and e["phase"] == "end"} != {0, 1, 2, 3}:
        assert time.monotonic() < deadline, "the survivor did not take every item over"
        time.sleep(0.1)
    later = [e for e in read_ledger(ledger) if e["fire"] >= after]
    assert {e["instance"] for e in later} == {survivor.instance_id}


def test_a_failed_run_logs_its_traceback_as_python_prints_it(caplog):
    caplog.set_level(logging.ERROR, logger="elasticjob")

    def explode(ctx):
        raise ZeroDivisionError("the ledger is empty")

    config = elasticjob.JobConfig("explodes", "", 1)
    with elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("py-log-traceback"), config, explode) as scheduler:
        scheduler.trigger()
        deadline = time.time() + 5
        while not caplog.records and time.time() < deadline:
            time.sleep(0.05)
    [record] = [r for r in caplog.records if r.name == "elasticjob"]
    message = record.getMessage()
    first, _, rest = message.partition("\n")
    assert first.startswith("job execution failed") and "job=explodes" in first and "item=0" in first, first
    assert rest.startswith("Traceback (most recent call last):\n"), message
    assert "in explode\n" in rest and rest.endswith("ZeroDivisionError: the ledger is empty"), message
