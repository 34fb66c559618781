"""The decorator API: ``App.job`` declares, ``App.serve`` runs in asyncio
until cancelled, ``App.run`` runs until SIGTERM and returns after a graceful
shutdown."""

import asyncio
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import elasticjob


def test_the_decorator_returns_the_function_and_checks_the_config_at_once():
    app = elasticjob.App(elasticjob.EmbeddedRegistry("py-app-declare"))

    def orders(ctx: elasticjob.ShardingContext) -> None:
        pass

    assert app.job("orders", cron="0/5 * * * * ?", items=4, failover=True)(orders) is orders
    [config] = app.configs
    assert (config.job_name, config.cron, config.sharding_total_count, config.failover) == ("orders", "0/5 * * * * ?", 4, True)
    with pytest.raises(elasticjob.ConfigError, match="already has a job"):
        app.job("orders")(orders)
    with pytest.raises(elasticjob.ConfigError, match="cron"):
        app.job("bad", cron="61 * * * * ?")


def test_serve_runs_every_job_on_the_loop_until_cancelled():
    registry = elasticjob.EmbeddedRegistry("py-app-serve")
    app = elasticjob.App(registry)
    runs = []

    @app.job("a", cron="* * * * * ?", items=2)
    async def a(ctx: elasticjob.ShardingContext) -> None:
        runs.append(("a", ctx.sharding_item))

    @app.job("b", cron="* * * * * ?")
    def b(ctx: elasticjob.ShardingContext) -> None:
        runs.append(("b", ctx.sharding_item))

    async def main() -> None:
        serving = asyncio.ensure_future(app.serve())
        deadline = time.monotonic() + 10
        while {("a", 0), ("a", 1), ("b", 0)} - set(runs):
            assert time.monotonic() < deadline, runs
            await asyncio.sleep(0.05)
        serving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await serving

    asyncio.run(main())
    operator = elasticjob.Operator(registry)
    assert operator.instances("a") == [] and operator.instances("b") == [], "serve shut every job down"


RUN = textwrap.dedent(
    """
    import sys, elasticjob
    app = elasticjob.App(elasticjob.ZookeeperRegistry(sys.argv[1], "py-app-run", session_timeout=30.0))

    @app.job("nightly", cron="* * * * * ?", items=2)
    def nightly(ctx):
        print(f"ran {ctx.sharding_item}", flush=True)

    app.run()
    print("returned", flush=True)
    """
)


def test_run_returns_after_sigterm_with_the_instance_gone(zk):
    operator = elasticjob.Operator(elasticjob.ZookeeperRegistry(zk, "py-app-run", session_timeout=5.0))
    child = subprocess.Popen([sys.executable, "-c", RUN, zk], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().startswith("ran "), "the job never ran"
        assert len(operator.instances("nightly")) == 1
        child.send_signal(signal.SIGTERM)
        assert child.wait(timeout=20) == 0
        assert "returned" in child.stdout.read()
        # The 30 s session has not expired: the instance left by itself.
        assert operator.instances("nightly") == []
    finally:
        child.kill()
        child.wait()


MANY = textwrap.dedent(
    """
    import sys, elasticjob
    app = elasticjob.App(elasticjob.ZookeeperRegistry(sys.argv[1], sys.argv[2], session_timeout=5.0))

    @app.job("first", cron="* * * * * ?", items=2)
    async def first(ctx):
        print("ran", flush=True)

    # Jobs that are still starting when "first" runs for the first time.
    for n in range(40):
        app.job(f"quiet-{n}", cron="0 0 0 1 1 ?")(lambda ctx: None)

    app.run()
    print("returned", flush=True)
    """
)


def test_run_returns_on_sigint_at_the_first_run_whatever_the_main_thread_was_doing(zk):
    """Ctrl-C as soon as a job first runs: the signal lands while other jobs
    still start, or in whatever Python the main thread runs then (a weakref
    callback of the garbage collector, where an exception is dropped). Every
    time, run() must shut every job down and return; before, it raised
    KeyboardInterrupt out of a start or, when the interrupt was dropped,
    never returned."""
    for attempt in range(5):
        child = subprocess.Popen([sys.executable, "-c", MANY, zk, f"py-app-sigint-{attempt}"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline() == "ran\n", child.stderr.read()
            child.send_signal(signal.SIGINT)
            out, err = child.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            child.kill()
            out, err = child.communicate()
            pytest.fail(f"attempt {attempt}: run() did not return within 10 s of SIGINT: {err}")
        finally:
            child.kill()
            child.wait()
        assert child.returncode == 0 and "returned" in out, f"attempt {attempt}: exit {child.returncode}: {err}"
        assert "Traceback" not in err and "Exception ignored" not in err, f"attempt {attempt}: {err}"
