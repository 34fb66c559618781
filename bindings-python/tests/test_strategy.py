"""Sharding strategies of your own and executor types, through the Python
package on a real ZooKeeper (strategies) and the embedded registry (executors)."""

import threading
import time

import elasticjob


def all_to_the_second(instances, total, job_name):
    """Every item to the instance ending in "-b": no built-in strategy does that."""
    chosen = next(i for i in instances if i.endswith("-b"))
    return {chosen: list(range(total))}


async def async_to_the_second(instances, total, job_name):
    return all_to_the_second(instances, total, job_name)


class Twice(elasticjob.ShardingStrategy):
    def sharding(self, instances, total, job_name):
        return {instances[0]: [0, 0]}


def wait_until(condition, what, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def test_a_python_strategy_decides_who_runs_what(zk):
    registry = elasticjob.ZookeeperRegistry(zk, "py-strategy")
    config = elasticjob.JobConfig("custom", "* * * * * ?", 4, job_sharding_strategy_type="TO_B", overwrite=True)
    runs = []
    lock = threading.Lock()

    def recorder(name):
        def execute(ctx):
            with lock:
                runs.append((ctx.sharding_item, name))
        return execute

    # The first (the leader) answers from an async def: same answer.
    schedulers = [
        elasticjob.JobScheduler(registry, config, recorder(name), instance_id=f"127.0.0.1@-@py-{name}",
                                sharding_strategies={"TO_B": async_to_the_second if name == "a" else all_to_the_second})
        for name in ("a", "b", "c")
    ]
    for scheduler in schedulers:
        scheduler.start()
    try:
        time.sleep(1.5)
        with lock:
            runs.clear()
        wait_until(lambda: {item for item, _ in list(runs)} == {0, 1, 2, 3}, "every item ran")
    finally:
        for scheduler in schedulers:
            scheduler.shutdown()
    assert {name for _, name in runs} == {"b"}, runs


def test_a_wrong_answer_is_reported_and_not_applied(zk):
    registry = elasticjob.ZookeeperRegistry(zk, "py-strategy-bad")
    config = elasticjob.JobConfig("custom", "* * * * * ?", 2, job_sharding_strategy_type="TWICE")
    runs = []
    errors = []
    scheduler = elasticjob.JobScheduler(registry, config, lambda ctx: runs.append(ctx.sharding_item),
                                        sharding_strategies={"TWICE": Twice()})
    scheduler.add_listener(lambda event: errors.append(event.message) if isinstance(event, elasticjob.ErrorEvent) else None)
    with scheduler:
        wait_until(lambda: any("sharding strategy `TWICE`" in e and "item 0 twice" in e for e in errors),
                   "the refusal was reported")
        time.sleep(1.2)
    assert runs == []


def test_an_exception_in_the_strategy_is_reported(zk):
    def broken(instances, total, job_name):
        raise RuntimeError("no capacity data")

    registry = elasticjob.ZookeeperRegistry(zk, "py-strategy-raises")
    config = elasticjob.JobConfig("custom", "* * * * * ?", 1, job_sharding_strategy_type="BROKEN")
    errors = []
    scheduler = elasticjob.JobScheduler(registry, config, lambda ctx: None, sharding_strategies={"BROKEN": broken})
    scheduler.add_listener(lambda event: errors.append(event.message) if isinstance(event, elasticjob.ErrorEvent) else None)
    with scheduler:
        wait_until(lambda: any("`BROKEN`" in e and "no capacity data" in e for e in errors), "the exception was reported")


def test_an_unregistered_type_fails_the_build():
    config = elasticjob.JobConfig("custom", "", 1, job_sharding_strategy_type="NOWHERE")
    try:
        elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("py-none"), config, lambda ctx: None)
    except ValueError as e:
        assert "jobShardingStrategyType" in str(e) and "NOWHERE" in str(e)
    else:
        raise AssertionError("an unregistered strategy type must fail the build")


def most_in_flight(executor):
    """Runs one fire of a four-item job; the most handlers in flight at once."""
    state = {"now": 0, "most": 0, "done": 0}
    lock = threading.Lock()

    def execute(ctx):
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.15)
        with lock:
            state["now"] -= 1
            state["done"] += 1

    config = elasticjob.JobConfig("pool", "", 4, job_executor_service_handler_type=executor)
    with elasticjob.JobScheduler(elasticjob.EmbeddedRegistry(f"py-pool-{executor}"), config, execute) as scheduler:
        scheduler.trigger()
        wait_until(lambda: state["done"] == 4, "every item ran")
    return state["most"]


def test_single_thread_runs_items_one_at_a_time_and_cpu_overlaps_them():
    assert most_in_flight("SINGLE_THREAD") == 1
    assert most_in_flight("CPU") >= 2


def test_an_unknown_executor_type_is_a_value_error_naming_it():
    try:
        elasticjob.JobConfig("pool", "", 1, job_executor_service_handler_type="GPU")
    except ValueError as e:
        assert "jobExecutorServiceHandlerType" in str(e) and "GPU" in str(e)
    else:
        raise AssertionError("GPU is not an executor type")


def test_an_async_strategy_is_awaited():
    async def everything_to_the_first(instances, total, job_name):
        return {instances[0]: list(range(total))}

    config = elasticjob.JobConfig("j", "", 2, job_sharding_strategy_type="ASYNC")
    events = []
    scheduler = elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("py-async-strategy"), config, lambda ctx: None,
                                        sharding_strategies={"ASYNC": everything_to_the_first})
    scheduler.add_listener(events.append)
    with scheduler:
        scheduler.trigger()
        wait_until(lambda: any(isinstance(e, elasticjob.Sharded) for e in events), "resharded")
    sharded = next(e for e in events if isinstance(e, elasticjob.Sharded))
    assert sharded.assignment == {scheduler.instance_id: [0, 1]}
