"""Job listeners, one-off jobs and monitor_execution=False through the
built package, on a real ZooKeeper."""

import collections
import threading
import time

import pytest

import elasticjob

from conftest import now_ms


def registry(zk, namespace):
    return elasticjob.ZookeeperRegistry(zk, namespace, session_timeout=5.0)


class Recorder(elasticjob.JobListener):
    def __init__(self, log, name):
        self.log, self.name = log, name

    def before_job_executed(self, contexts):
        self.log.append((self.name, "before", contexts.fire_time, sorted(contexts.sharding_item_parameters)))

    async def after_job_executed(self, contexts):
        self.log.append((self.name, "after", contexts.fire_time, sorted(contexts.sharding_item_parameters)))


class Once(elasticjob.DistributeOnceJobListener):
    def __init__(self, log, name):
        super().__init__(3000, 3000)
        self.log, self.name = log, name

    def do_before_job_executed_at_last_started(self, contexts):
        self.log.append((self.name, "once-before", contexts.fire_time, None))

    def do_after_job_executed_at_last_completed(self, contexts):
        self.log.append((self.name, "once-after", contexts.fire_time, None))


class ListenedJob(elasticjob.SimpleJob):
    """A job that is its own listener, as ElasticJob allows."""

    def __init__(self, log, name):
        self.log, self.name = log, name

    def execute(self, ctx):
        self.log.append((self.name, "run", ctx.fire_time, [ctx.sharding_item]))
        time.sleep(0.05)

    def after_job_executed(self, contexts):
        self.log.append((self.name, "job-after", contexts.fire_time, sorted(contexts.sharding_item_parameters)))
        raise RuntimeError("listener errors are only reported")


def test_listeners_run_per_instance_per_fire_and_once_across_the_cluster(zk):
    log = []
    config = elasticjob.JobConfig("py-listened", "* * * * * ?", 4, sharding_item_parameters="0=a,1=b,2=c,3=d")
    schedulers = [
        elasticjob.JobScheduler(
            registry(zk, "py-listeners"), config, ListenedJob(log, f"w{n}"),
            instance_id=f"127.0.0.1@-@py-{n}", listeners=[Recorder(log, f"w{n}"), Once(log, f"w{n}")],
        )
        for n in range(2)
    ]
    errors = []
    for scheduler in schedulers:
        scheduler.add_listener(lambda e: errors.append(e.message) if isinstance(e, elasticjob.ErrorEvent) else None)
        scheduler.start()
    time.sleep(5.5)
    for scheduler in schedulers:
        scheduler.shutdown()
    time.sleep(0.3)
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for name, what, fire, items in log:
        if what == "run":
            runs[fire][name] += items
    whole = [fire for fire, by in runs.items() if sorted(sum(by.values(), [])) == [0, 1, 2, 3] and len(by) == 2]
    assert len(whole) >= 3, dict(runs)
    for fire in whole:
        for name, items in runs[fire].items():
            for what in ("before", "after", "job-after"):
                calls = [e for e in log if e[0] == name and e[1] == what and e[2] == fire]
                assert len(calls) == 1, (fire, name, what, calls)
                assert calls[0][3] == sorted(items), "one call with all of the instance's items"
        for what in ("once-before", "once-after"):
            assert len([e for e in log if e[1] == what and e[2] == fire]) == 1, (fire, what, [e for e in log if e[2] == fire])
    assert any("listener errors are only reported" in e for e in errors), errors


def test_a_once_listener_needs_positive_timeouts(zk):
    config = elasticjob.JobConfig("py-bad-once", "", 1)
    with pytest.raises(ValueError, match="startedTimeoutMilliseconds `0`"):
        elasticjob.JobScheduler(registry(zk, "py-listeners"), config, lambda ctx: None,
                                listeners=[elasticjob.DistributeOnceJobListener(0, 1000)])
    with pytest.raises(TypeError, match="invalid listener"):
        elasticjob.JobScheduler(registry(zk, "py-listeners"), config, lambda ctx: None, listeners=[object()])


def test_a_one_off_job_runs_every_instances_items_once_per_execute(zk):
    lock = threading.Lock()
    runs = []

    def record(ctx):
        with lock:
            runs.append(ctx.sharding_item)

    config = elasticjob.JobConfig("py-one-off", "", 4)
    schedulers = [
        elasticjob.OneOffJobScheduler(registry(zk, "py-one-off"), config, record, instance_id=f"127.0.0.1@-@one-{n}")
        for n in range(2)
    ]
    for scheduler in schedulers:
        scheduler.start()
    try:
        time.sleep(1.5)
        assert runs == [], "nothing runs before execute()"
        schedulers[0].execute()
        deadline = time.time() + 10
        while len(runs) < 4 and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        assert sorted(runs) == [0, 1, 2, 3], "every item once, on both instances"
    finally:
        for scheduler in schedulers:
            scheduler.shutdown()
    with pytest.raises(ValueError, match=r"cron `\* \* \* \* \* \?`.*one-off"):
        elasticjob.OneOffJobScheduler(registry(zk, "py-one-off"), elasticjob.JobConfig("x", "* * * * * ?", 1), record)


def test_without_monitor_execution_no_item_shows_running_and_failover_is_refused(zk):
    with pytest.raises(ValueError, match="monitorExecution `false`.*failover"):
        elasticjob.JobScheduler(
            registry(zk, "py-unmonitored"),
            elasticjob.JobConfig("py-both", "* * * * * ?", 1, failover=True, monitor_execution=False),
            lambda ctx: None,
        )
    ran = []
    config = elasticjob.JobConfig("py-unmonitored", "* * * * * ?", 2, monitor_execution=False)
    operator = elasticjob.Operator(registry(zk, "py-unmonitored"))
    with elasticjob.JobScheduler(registry(zk, "py-unmonitored"), config, lambda ctx: (ran.append(now_ms()), time.sleep(0.6))):
        deadline = time.time() + 3.5
        while time.time() < deadline:
            states = [item.state for item in operator.items("py-unmonitored")]
            assert "RUNNING" not in states, states
            time.sleep(0.05)
    assert len(ran) >= 4, ran
