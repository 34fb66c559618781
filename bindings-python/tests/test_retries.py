"""Retries (props ``retryMaxAttempts`` ...): a failed run is run again after
its back-off, ``ctx.attempt`` counts the attempts, and each execution
record says which attempt it was."""

import time

import pytest

import elasticjob

from conftest import wait_until


def test_a_raised_exception_is_retried_after_the_back_off_and_ctx_attempt_counts():
    calls = []
    executions = []

    def handler(ctx):
        calls.append((ctx.attempt, ctx.fire_time, time.monotonic()))
        if ctx.attempt < 2:
            raise ValueError(f"attempt {ctx.attempt} fails")

    config = elasticjob.JobConfig("retried", "", 1, props={"retryMaxAttempts": "3", "retryInitialIntervalMillis": "200"})
    scheduler = elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("py-retries"), config, handler)
    scheduler.add_listener(lambda e: executions.append(e) if isinstance(e, elasticjob.Execution) else None)
    with scheduler:
        scheduler.trigger()
        wait_until(lambda: len(executions) == 2, 5, "the retry")
    assert [c[0] for c in calls] == [1, 2]
    assert calls[1][1] == calls[0][1], "a retry keeps its fire time"
    assert calls[1][2] - calls[0][2] >= 0.19
    assert [(e.attempt, e.success) for e in executions] == [(1, False), (2, True)]
    assert "ValueError: attempt 1 fails" in (executions[0].error or "")


def test_a_bad_retry_prop_is_refused_naming_it():
    with pytest.raises(elasticjob.ConfigError, match="retryNonRetryable `crashed`"):
        elasticjob.JobConfig("bad", "", 1, props={"retryMaxAttempts": "3", "retryNonRetryable": "crashed"})
