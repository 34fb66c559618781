"""Failures as Python exceptions: one class per kind under
``elasticjob.ElasticJobError``, printed as ``elasticjob.X``; a registry that
cannot be reached fails fast naming the address and the cause."""

import re
import socket
import time
import traceback

import pytest

import elasticjob

CLASSES = ["ConfigError", "RegistryError", "RegistryUnavailable", "SessionExpired", "NotAuthorized",
           "IllegalState", "JobExecutionError", "ShardingStrategyError", "HistoryError"]


@pytest.mark.parametrize("name", CLASSES)
def test_every_error_class_is_an_elasticjob_error_named_as_such(name):
    cls = getattr(elasticjob, name)
    assert issubclass(cls, elasticjob.ElasticJobError)
    assert repr(cls) == f"<class 'elasticjob.{name}'>"
    assert name in elasticjob.__all__


def test_the_registry_errors_share_a_base():
    for name in ("RegistryUnavailable", "SessionExpired", "NotAuthorized"):
        assert issubclass(getattr(elasticjob, name), elasticjob.RegistryError)


def test_a_config_error_prints_as_elasticjob_and_is_a_value_error():
    with pytest.raises(elasticjob.ConfigError) as raised:
        elasticjob.JobConfig("a/b", "* * * * * ?", 1)
    assert isinstance(raised.value, ValueError)
    printed = "".join(traceback.format_exception_only(raised.type, raised.value))
    assert printed.startswith("elasticjob.ConfigError: invalid jobName `a/b`"), printed


def test_triggering_a_scheduler_that_never_started_is_an_illegal_state():
    scheduler = elasticjob.JobScheduler(elasticjob.EmbeddedRegistry("py-illegal"),
                                        elasticjob.JobConfig("idle", "", 1), lambda ctx: None)
    with pytest.raises(elasticjob.IllegalState, match="start it first"):
        scheduler.trigger()


def closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_against(address: str) -> "tuple[elasticjob.RegistryUnavailable, float]":
    # The default connection timeout; the session timeout is only there so
    # that a core that ignored the connection timeout fails this test in 10 s.
    registry = elasticjob.ZookeeperRegistry(address, "py-errors", session_timeout=10.0)
    scheduler = elasticjob.JobScheduler(registry, elasticjob.JobConfig("unreachable", "", 1), lambda ctx: None)
    started = time.monotonic()
    with pytest.raises(elasticjob.RegistryUnavailable) as raised:
        scheduler.start()
    return raised.value, time.monotonic() - started


def test_a_closed_port_fails_within_five_seconds_naming_the_address_and_the_cause():
    address = f"127.0.0.1:{closed_loopback_port()}"
    error, took = start_against(address)
    assert took < 5, f"connecting to a closed port took {took:.1f} s"
    assert error.address == address and address in str(error), error
    assert re.search(r"refused", str(error), re.I), f"the cause is missing: {error}"


def test_an_unresolvable_host_fails_within_five_seconds_naming_it():
    error, took = start_against("nowhere.invalid:2181")
    assert took < 5, f"connecting to an unresolvable host took {took:.1f} s"
    assert "nowhere.invalid" in str(error) and error.address == "nowhere.invalid:2181"
    assert re.search(r"resolve|unknown host|not known", str(error), re.I), f"the cause is missing: {error}"


def test_the_operator_fails_the_same_way():
    address = f"127.0.0.1:{closed_loopback_port()}"
    operator = elasticjob.Operator(elasticjob.ZookeeperRegistry(address, "py-errors", session_timeout=10.0))
    with pytest.raises(elasticjob.RegistryUnavailable) as raised:
        operator.jobs()
    assert raised.value.address == address
