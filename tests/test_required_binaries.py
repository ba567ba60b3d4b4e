"""A test that needs a program the machine may lack skips outside CI and says why, and fails in
CI, so that `make test` passes on a machine with only Python while CI still runs everything."""

import pytest

from tests.servers import INSTALL_HINTS, RedisServer, require_binary


@pytest.fixture
def bare_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))


@pytest.mark.parametrize("name", sorted(INSTALL_HINTS))
def test_a_missing_binary_skips_the_test_outside_ci_and_says_how_to_install_it(bare_path, monkeypatch, name):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=f"{name} not found on PATH \\(Debian: apt-get install "):
        require_binary(name)


@pytest.mark.parametrize("name", sorted(INSTALL_HINTS))
def test_a_missing_binary_fails_the_test_in_ci(bare_path, monkeypatch, name):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=f"CI is set but {name} not found on PATH"):
        require_binary(name)


def test_a_test_that_starts_its_own_redis_skips_without_redis_server(bare_path, monkeypatch, tmp_path):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="redis-server not found"):
        RedisServer(tmp_path / "redis")
