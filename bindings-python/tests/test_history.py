"""The execution history from Python: a job configured with a SQLite
history writes a row per execution there, tagged with the binding."""

import sqlite3
import time

import pytest

import elasticjob


def test_executions_are_written_to_a_sqlite_history(zk, tmp_path):
    db = tmp_path / "history.db"

    def execute(ctx: elasticjob.ShardingContext) -> None:
        if ctx.sharding_item == 1:
            raise ValueError("item one refuses")

    registry = elasticjob.ZookeeperRegistry(zk, "py-history", session_timeout=2.0)
    config = elasticjob.JobConfig("py-traced", "* * * * * ?", 2)
    scheduler = elasticjob.JobScheduler(registry, config, execute, history=f"sqlite://{db}")
    executions = []
    scheduler.start()
    deadline = time.monotonic() + 20
    while len(executions) < 4 and time.monotonic() < deadline:
        event = scheduler.next_event(1.0)
        if isinstance(event, elasticjob.Execution):
            executions.append(event)
    scheduler.shutdown()
    while (event := scheduler.next_event(0)) is not None:
        if isinstance(event, elasticjob.Execution):
            executions.append(event)
    assert len(executions) >= 4

    stats = scheduler.history_stats
    assert stats is not None and stats.dropped == 0 and stats.pending == 0, stats
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT sharding_item, binding, is_success, failure_cause FROM job_execution_log WHERE job_name = 'py-traced'"
        ).fetchall()
        states = {s for (s,) in conn.execute("SELECT state FROM job_status_trace_log")}
    assert len(rows) == len(executions)
    assert {binding for _, binding, _, _ in rows} == {"python"}
    failures = [cause for item, _, ok, cause in rows if item == 1]
    assert failures and all(cause and "item one refuses" in cause for cause in failures)
    assert all(ok == 1 for item, _, ok, _ in rows if item == 0)
    assert "STOPPED" in states


def test_a_scheduler_without_history_has_no_stats(zk):
    registry = elasticjob.ZookeeperRegistry(zk, "py-history", session_timeout=2.0)
    scheduler = elasticjob.JobScheduler(registry, elasticjob.JobConfig("untraced", "", 1), lambda ctx: None)
    assert scheduler.history_stats is None


def test_a_bad_history_url_is_a_value_error_naming_it():
    registry = elasticjob.EmbeddedRegistry("py-history-bad")
    with pytest.raises(ValueError, match="history"):
        elasticjob.JobScheduler(registry, elasticjob.JobConfig("j", "", 1), lambda ctx: None, history="mysql://db/x")
