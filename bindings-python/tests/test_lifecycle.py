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
