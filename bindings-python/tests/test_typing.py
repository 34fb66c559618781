"""The package is typed as it behaves: ``mypy.stubtest`` finds the native
stubs and the runtime in agreement, the examples pass ``mypy --strict``,
``help()`` shows real defaults, and the frozen config really is frozen."""

import importlib.metadata
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import elasticjob

PACKAGE = Path(__file__).resolve().parents[1]


def run_mypy(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=PACKAGE, capture_output=True, text=True)


def test_stubtest_finds_no_mismatch():
    result = run_mypy("mypy.stubtest", "elasticjob", "--allowlist", "stubtest-allowlist.txt")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_examples_pass_mypy_strict():
    result = run_mypy("mypy", "--strict", "examples")
    assert result.returncode == 0, result.stdout + result.stderr


def public_callables():
    for name in elasticjob.__all__:
        value = getattr(elasticjob, name)
        if inspect.isclass(value):
            yield name, value
            for attribute, member in vars(value).items():
                if not attribute.startswith("_") and callable(member):
                    yield f"{name}.{attribute}", member
        elif inspect.isfunction(value):
            yield name, value


def test_help_shows_real_defaults():
    checked = 0
    for name, value in public_callables():
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):
            continue
        checked += 1
        for parameter in signature.parameters.values():
            assert parameter.default is not Ellipsis, f"{name}({parameter.name}=...)"
    assert checked > 50
    assert "connection_timeout=None" in str(inspect.signature(elasticjob.ZookeeperRegistry))
    assert "max_time_diff_seconds=-1" in str(inspect.signature(elasticjob.JobConfig))


def test_the_config_is_frozen_and_replace_validates():
    config = elasticjob.JobConfig("frozen", "0/5 * * * * ?", 2)
    with pytest.raises(AttributeError):
        config.cron = "0 * * * * ?"  # type: ignore[misc]
    changed = config.replace(cron="0 * * * * ?", failover=True)
    assert (changed.cron, changed.failover, changed.sharding_total_count) == ("0 * * * * ?", True, 2)
    assert config.cron == "0/5 * * * * ?"
    with pytest.raises(elasticjob.ConfigError, match="shardingTotalCount"):
        config.replace(sharding_total_count=0)
    with pytest.raises(TypeError, match="crom"):
        config.replace(crom="0 * * * * ?")


def test_the_version_is_the_packages():
    assert elasticjob.__version__ == importlib.metadata.version("elasticjob")
