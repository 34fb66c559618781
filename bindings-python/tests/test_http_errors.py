"""HTTP jobs and the THROW error handler through the real binding, on a
real ZooKeeper, against an HTTP server the test starts on a loopback port."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import elasticjob


class Sink:
    """An HTTP server on a free 127.0.0.1 port that records requests."""

    def __init__(self) -> None:
        self.requests = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                sink.requests.append((self.command, self.path, self.headers, self.rfile.read(length).decode()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_until(check, limit=20.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_an_http_job_posts_the_sharding_context(zk):
    sink = Sink()
    try:
        registry = elasticjob.ZookeeperRegistry(zk, "py-http", session_timeout=5.0)
        config = elasticjob.JobConfig(
            "py-http-job", "", 2, sharding_item_parameters="0=a,1=b",
            props={"http.uri": f"{sink.url}/run", "http.method": "POST", "http.data": "x=1"},
        )
        with elasticjob.JobScheduler(registry, config, elasticjob.HttpJob()) as scheduler:
            scheduler.trigger()
            wait_until(lambda: len(sink.requests) == 2)
        contexts = sorted((json.loads(headers.get("shardingContext")) for _, _, headers, _ in sink.requests),
                          key=lambda c: c["shardingItem"])
        assert [c["shardingParameter"] for c in contexts] == ["a", "b"]
        assert {(method, path, body) for method, path, _, body in sink.requests} == {("POST", "/run", "x=1")}
    finally:
        sink.close()


def test_bad_http_props_raise_value_error_naming_the_prop():
    config = elasticjob.JobConfig("py-http-bad", "", 1, props={"http.uri": "http://127.0.0.1:1/"})
    with pytest.raises(ValueError, match="http.method"):
        elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("py-http-bad"), config, elasticjob.HttpJob())


def test_throw_hands_failures_to_error_handlers(zk):
    registry = elasticjob.ZookeeperRegistry(zk, "py-throw", session_timeout=5.0)
    config = elasticjob.JobConfig("py-throw-job", "", 1, job_error_handler_type="THROW")

    def execute(ctx):
        raise RuntimeError(f"item {ctx.sharding_item} is broken")

    errors = []
    with elasticjob.JobScheduler(registry, config, execute) as scheduler:
        scheduler.add_error_handler(errors.append)
        scheduler.trigger()
        wait_until(lambda: errors)
    error = errors[0]
    assert isinstance(error, elasticjob.JobExecutionError) and isinstance(error, elasticjob.ElasticJobError)
    run = error.execution
    assert run is not None and (run.job_name, run.item, run.instance_id) == ("py-throw-job", 0, scheduler.instance_id)
    assert run.error == "RuntimeError: item 0 is broken" and run.error in str(error)
    assert run.traceback is not None and "in execute" in run.traceback


def test_a_notifier_with_bad_props_is_refused():
    with pytest.raises(ValueError, match="dingtalk.webhook.*not a url"):
        elasticjob.JobConfig("py-notify-bad", "", 1, job_error_handler_type="DINGTALK",
                             props={"dingtalk.webhook": "not a url"})
