"""Python workers on a real ZooKeeper: sharing, failover, failures, async."""

import time

from conftest import check_ledger, fires_between, now_ms, read_ledger


def worker_args(zk, ledger, job, items, cron="* * * * * ?", **extra):
    args = ["--zk", zk, "--namespace", "py-tests", "--job", job, "--items", str(items),
            "--cron", cron, "--ledger", str(ledger)]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", str(value)]
    return args


def test_two_workers_share_four_items_exactly_once(zk, workers, tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    for _ in range(2):
        workers(*worker_args(zk, ledger, "share", 4, sleep_ms=50))
    ready = now_ms()
    time.sleep(8)
    done = now_ms()
    fires = fires_between(ready + 1000, done - 1500, 1000)
    assert len(fires) >= 5
    report = check_ledger(ledger, "share", 4, fires)
    assert report["exactly_once"] >= 4 * len(fires)
    assert len({e["instance"] for e in read_ledger(ledger)}) == 2


def test_a_killed_workers_items_fail_over(zk, workers, tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    survivor = workers(*worker_args(zk, ledger, "failover", 4, cron="0/4 * * * * ?", sleep_ms=2500))
    victim = workers(*worker_args(zk, ledger, "failover", 4, cron="0/4 * * * * ?", sleep_ms=2500))
    deadline = time.time() + 20
    while not any(e["instance"] == victim.instance_id and e["phase"] == "start" for e in read_ledger(ledger)):
        assert time.time() < deadline, "the victim never started an item"
        time.sleep(0.05)
    started = next(e for e in read_ledger(ledger) if e["instance"] == victim.instance_id)
    time.sleep(0.5)
    victim.kill9()
    fire = started["fire"]
    victim_items = {e["item"] for e in read_ledger(ledger) if e["instance"] == victim.instance_id and e["fire"] == fire}
    deadline = time.time() + 15
    while True:
        ended = {e["item"] for e in read_ledger(ledger)
                 if e["fire"] == fire and e["phase"] == "end" and e["instance"] == survivor.instance_id}
        if victim_items <= ended:
            break
        assert time.time() < deadline, f"items {victim_items - ended} were not failed over"
        time.sleep(0.1)
    time.sleep(5)
    check_ledger(ledger, "failover", 4, fires_between(fire - 1, now_ms() - 4000, 4000), crashed=[victim.instance_id])


def test_an_exception_is_reported_and_later_fires_still_run(zk, tmp_path):
    import elasticjob

    registry = elasticjob.ZookeeperRegistry(zk, "py-errors", session_timeout=2.0)
    runs = []

    class Flaky(elasticjob.SimpleJob):
        def execute(self, ctx):
            if ctx.sharding_item == 0:
                raise KeyError("item zero always fails")
            runs.append((ctx.sharding_item, ctx.fire_time))

    config = elasticjob.JobConfig("flaky", "* * * * * ?", 2)
    scheduler = elasticjob.JobScheduler(registry, config, Flaky())
    failures = []
    scheduler.add_listener(lambda e: failures.append(e) if isinstance(e, elasticjob.Execution) and not e.success else None)
    with scheduler:
        time.sleep(3.5)
    assert len({fire for _, fire in runs}) >= 3, runs
    assert failures, "failed executions are reported"
    assert all(f.item == 0 for f in failures)
    assert failures[0].error == "KeyError: 'item zero always fails'"
    assert failures[0].traceback.startswith("Traceback (most recent call last):\n"), failures[0].traceback
    assert "in execute\n" in failures[0].traceback and failures[0].traceback.endswith(failures[0].error)


def test_async_execute_runs_on_the_bindings_loop(zk, tmp_path):
    import asyncio

    import elasticjob

    seen = []

    class AsyncJob(elasticjob.SimpleJob):
        async def execute(self, ctx):
            await asyncio.sleep(0.05)
            seen.append((ctx.sharding_item, asyncio.get_running_loop() is not None))

    registry = elasticjob.ZookeeperRegistry(zk, "py-async", session_timeout=2.0)
    with elasticjob.JobScheduler(registry, elasticjob.JobConfig("async", "* * * * * ?", 3), AsyncJob()):
        time.sleep(2.5)
    assert {item for item, _ in seen} == {0, 1, 2}
    assert all(in_loop for _, in_loop in seen)


def test_async_workers_share_a_job(zk, workers, tmp_path):
    ledger = tmp_path / "ledger.jsonl"
    for _ in range(2):
        workers(*worker_args(zk, ledger, "async-share", 4, sleep_ms=50, use_async="true"))
    ready = now_ms()
    time.sleep(5)
    check_ledger(ledger, "async-share", 4, fires_between(ready + 1000, now_ms() - 1500, 1000))
