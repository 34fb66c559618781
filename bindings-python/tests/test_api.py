"""The Python API itself: configuration errors, YAML, dataflow, operator."""

import time
from datetime import datetime, timedelta, timezone

import pytest

import elasticjob


@pytest.mark.parametrize(
    "kwargs, field, value",
    [
        (dict(job_name="j", cron="* * * * * ?", sharding_total_count=-3), "shardingTotalCount", "-3"),
        (dict(job_name="j", cron="* * * * * ?", sharding_total_count=0), "shardingTotalCount", "0"),
        (dict(job_name="a/b", cron="* * * * * ?", sharding_total_count=1), "jobName", "a/b"),
        (dict(job_name="j", cron="61 * * * * ?", sharding_total_count=1), "cron", "61 * * * * ?"),
        (dict(job_name="j", cron="", sharding_total_count=2, sharding_item_parameters="0=a,5=f"), "shardingItemParameters", "5=f"),
        (dict(job_name="j", cron="", sharding_total_count=1, time_zone="Mars/Base"), "timeZone", "Mars/Base"),
    ],
)
def test_bad_config_raises_value_error_naming_the_field(kwargs, field, value):
    with pytest.raises(ValueError) as raised:
        elasticjob.JobConfig(**kwargs)
    assert field in str(raised.value) and value in str(raised.value)


def test_bad_registry_arguments_are_value_errors():
    with pytest.raises(ValueError, match="session_timeout"):
        elasticjob.ZookeeperRegistry("127.0.0.1:1", "ns", session_timeout=-1)


def test_yaml_round_trip_uses_elasticjob_keys():
    config = elasticjob.JobConfig("orders", "0/5 * * * * ?", 3, sharding_item_parameters="0=A,1=B,2=C",
                                  failover=True, props={"streaming.process": "true"})
    yaml = config.to_yaml()
    assert "shardingTotalCount: 3" in yaml and "shardingItemParameters: 0=A,1=B,2=C" in yaml
    assert elasticjob.JobConfig.from_yaml(yaml) == config
    parsed = elasticjob.JobConfig.from_yaml(
        "jobName: j\nshardingTotalCount: 2\njobShardingStrategyType: ODEVITY\nlabel: blue\nmaxTimeDiffSeconds: 5\n"
    )
    assert (parsed.job_sharding_strategy_type, parsed.label, parsed.max_time_diff_seconds) == ("ODEVITY", "blue", 5)
    assert (parsed.reconcile_interval_minutes, parsed.static_sharding, parsed.description) == (10, False, "")
    with pytest.raises(ValueError, match="shardingTotalCount"):
        elasticjob.JobConfig.from_yaml("jobName: j\nshardingTotalCount: 0\n")


def test_dataflow_job_streams_until_fetch_is_empty():
    batches = [[1, 2], [3]]
    processed = []

    class Feed(elasticjob.DataflowJob):
        def fetch(self, ctx):
            return batches.pop(0) if batches and ctx.sharding_item == 0 else []

        def process(self, ctx, items):
            processed.extend(items)

    config = elasticjob.JobConfig("feed", "", 1, props={"streaming.process": "true"})
    with elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("df"), config, Feed()) as scheduler:
        scheduler.trigger()
        deadline = time.time() + 5
        while len(processed) < 3 and time.time() < deadline:
            time.sleep(0.05)
    assert processed == [1, 2, 3]


def test_operator_pauses_with_a_note_and_resumes():
    registry = elasticjob.EmbeddedRegistry("pause")
    config = elasticjob.JobConfig("nightly", "0 0 3 * * ?", 1)
    with elasticjob.JobScheduler(registry, config, lambda ctx: None):
        operator = elasticjob.Operator(registry)
        until = datetime.now(timezone.utc) + timedelta(hours=1)
        operator.pause("nightly", "quarterly close", by="ops", until=until)
        note = operator.pause_note("nightly")
        assert note is not None and (note.by, note.reason) == ("ops", "quarterly close")
        assert note.until is not None and abs((note.until - until).total_seconds()) < 0.01
        [job] = operator.jobs()
        assert (job.status, job.pause) == ("PAUSED", note)
        with pytest.raises(ValueError, match="timezone-aware"):
            operator.pause("nightly", until=datetime.now())
        with pytest.raises(elasticjob.ConfigError, match="until .* must be in the future"):
            operator.pause("nightly", until=datetime.now(timezone.utc) - timedelta(minutes=1))
        assert operator.resume("nightly") is True
        assert operator.resume("nightly") is False
        assert operator.pause_note("nightly") is None
        assert operator.jobs()[0].pause is None


def test_operator_backfills_a_range_and_lists_its_progress():
    registry = elasticjob.EmbeddedRegistry("backfill")
    ran = []
    config = elasticjob.JobConfig("hourly", "0 0 * * * ?", 2)
    with elasticjob.JobScheduler(registry, config, lambda ctx: ran.append((ctx.sharding_item, ctx.fire_time))):
        operator = elasticjob.Operator(registry)
        end = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
        backfill_id = operator.backfill("hourly", end - timedelta(hours=3), end, by="ops")
        deadline = time.time() + 10
        while not all(b.done for b in operator.backfills("hourly")) and time.time() < deadline:
            time.sleep(0.05)
        [backfill] = operator.backfills("hourly")
        assert (backfill.id, backfill.by, backfill.fires, backfill.started, backfill.total, backfill.done) == (
            backfill_id, "ops", 3, 6, 6, True)
        assert backfill.end == end
        hours = [int((end - timedelta(hours=h)).timestamp() * 1000) for h in (3, 2, 1)]
        end_ms = int(end.timestamp() * 1000)
        deadline = time.time() + 5
        while len([r for r in ran if r[1] < end_ms]) < 6 and time.time() < deadline:
            time.sleep(0.05)
        # (A cron fire at the top of an hour the test crosses is no backfill run.)
        assert sorted(r for r in ran if r[1] < end_ms) == sorted((item, hour) for item in (0, 1) for hour in hours)
        with pytest.raises(ValueError, match="timezone-aware"):
            operator.backfill("hourly", datetime.now())
        with pytest.raises(elasticjob.ConfigError, match="to .* must not be in the future"):
            operator.backfill("hourly", end, end + timedelta(days=1))
        operator.cancel_backfill("hourly", backfill_id)
        assert operator.backfills("hourly") == []
        with pytest.raises(elasticjob.ConfigError, match="is not a backfill of this job"):
            operator.cancel_backfill("hourly", backfill_id)


def test_operator_triggers_and_lists_jobs():
    registry = elasticjob.EmbeddedRegistry("ops")
    ran = []
    config = elasticjob.JobConfig("manual", "", 2, sharding_item_parameters="0=x,1=y")
    with elasticjob.JobScheduler(registry, config, lambda ctx: ran.append(ctx.sharding_parameter)):
        operator = elasticjob.Operator(registry)
        assert [j.job_name for j in operator.jobs()] == ["manual"]
        operator.trigger("manual")
        deadline = time.time() + 5
        while len(ran) < 2 and time.time() < deadline:
            time.sleep(0.05)
        assert sorted(ran) == ["x", "y"]
        items = operator.items("manual")
        assert [i.item for i in items] == [0, 1]
        # SKIP leaves out items still running: wait until the first runs
        # completed (their marks gone, then their slots freed just after).
        deadline = time.time() + 5
        while any(i.state == "RUNNING" for i in operator.items("manual")) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
        operator.trigger("manual", overlap="SKIP")
        deadline = time.time() + 5
        while len(ran) < 4 and time.time() < deadline:
            time.sleep(0.05)
        assert len(ran) == 4, "a SKIP trigger runs idle items"
        with pytest.raises(elasticjob.ConfigError, match="overlapPolicy `now`"):
            operator.trigger("manual", overlap="now")
        with pytest.raises(ValueError, match="jobName"):
            operator.trigger("missing")
