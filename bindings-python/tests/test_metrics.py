"""Worker metrics from Python: the scheduler's snapshot and the process's
/metrics endpoint, after real executions on a real ZooKeeper, agree with the
executions the scheduler reported; the stubs describe what the module has."""

import time
import urllib.error
import urllib.request

import pytest

import elasticjob


def scrape(address: str, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://{address}{path}", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return response.read().decode()


def sample(text: str, series: str) -> float:
    for line in text.splitlines():
        if not line.startswith("#") and line.rsplit(" ", 1)[0] == series:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no {series} in:\n{text}")


def test_the_snapshot_and_the_endpoint_match_the_executions(zk):
    def execute(ctx: elasticjob.ShardingContext) -> None:
        if ctx.sharding_item == 1:
            raise ValueError("item one refuses")

    registry = elasticjob.ZookeeperRegistry(zk, "py-metrics", session_timeout=2.0)
    config = elasticjob.JobConfig("py-metered", "* * * * * ?", 2)
    scheduler = elasticjob.JobScheduler(registry, config, execute, metrics_listen="127.0.0.1:0")
    address = scheduler.metrics_address
    assert address is not None and address.startswith("127.0.0.1:")
    assert scheduler.metrics.session_state == "closed"
    executions = []
    scheduler.start()
    deadline = time.monotonic() + 20
    while len(executions) < 4 and time.monotonic() < deadline:
        event = scheduler.next_event(1.0)
        if isinstance(event, elasticjob.Execution):
            executions.append(event)
    live = scheduler.metrics
    assert live.session_state == "connected" and live.items_owned == 2, live
    text = scrape(address)
    assert "# TYPE elasticjob_fire_lag_seconds histogram" in text
    assert sample(text, 'elasticjob_registry_session_state{job="py-metered",state="connected"}') == 1
    with pytest.raises(urllib.error.HTTPError) as refused:
        scrape(address, "/")
    assert refused.value.code == 404

    scheduler.shutdown()
    while (event := scheduler.next_event(0)) is not None:
        if isinstance(event, elasticjob.Execution):
            executions.append(event)
    metrics = scheduler.metrics
    assert isinstance(metrics, elasticjob.Metrics) and isinstance(metrics.fire_lag, elasticjob.Histogram)
    succeeded = sum(1 for e in executions if e.success)
    assert metrics.executions == {
        "succeeded": succeeded, "failed": len(executions) - succeeded, "timed_out": 0, "cancelled": 0
    }
    assert metrics.executions["failed"] >= 2
    assert metrics.handler_duration.count == metrics.fire_lag.count == len(executions)
    assert metrics.fire_lag.buckets[-1] <= metrics.fire_lag.count
    assert len(metrics.fire_lag.buckets) == len(metrics.fire_lag.bounds)
    assert metrics.fires["cron"] == len({e.fire_time for e in executions})
    assert (metrics.session_state, metrics.items_owned, metrics.items_running) == ("closed", 0, 0)
    assert metrics.history is None
    text = scrape(address)
    assert sample(text, 'elasticjob_executions_total{job="py-metered",outcome="failed"}') == metrics.executions["failed"]
    assert sample(text, 'elasticjob_fires_total{job="py-metered",kind="cron"}') == metrics.fires["cron"]
    assert sample(text, 'elasticjob_handler_duration_seconds_count{job="py-metered"}') == len(executions)

    # One endpoint per process: another address is refused, naming both.
    with pytest.raises(ValueError, match=f"metrics_listen.*{address}"):
        elasticjob.JobScheduler(registry, elasticjob.JobConfig("py-other", "", 1), execute, metrics_listen="127.0.0.1:1")
    del scheduler


def test_without_an_endpoint_the_snapshot_is_still_there():
    registry = elasticjob.EmbeddedRegistry("py-metrics-plain")
    scheduler = elasticjob.JobScheduler(registry, elasticjob.JobConfig("plain", "", 1), lambda ctx: None)
    assert scheduler.metrics_address is None
    assert scheduler.metrics.job_name == "plain" and scheduler.metrics.executions["succeeded"] == 0
    with pytest.raises(ValueError, match="metrics_listen"):
        elasticjob.JobScheduler(registry, elasticjob.JobConfig("plain", "", 1), lambda ctx: None, metrics_listen="nowhere")
