"""Helpers shared by the account tests: a protected endpoint to probe tokens with, a Redis that
is down for the revocation store only, and clocks that can be pinned."""

import contextlib
from datetime import UTC, datetime, timedelta
from unittest import mock

from tests.servers import DownRedis
from utils import redis_layer

PROTECTED_URL = "/api/review/today/"


def status_with(client, access: str) -> int:
    """The status a protected endpoint answers for this access token."""
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(PROTECTED_URL).status_code


def refresh(client, raw_refresh: str):
    return client.post("/api/auth/token/refresh/", {"refresh": raw_refresh})


def assert_json_401(response) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


@contextlib.contextmanager
def revocation_clock(moment: datetime):
    """Pin utils.clock.now (the clock deactivation cut-offs are taken from)."""
    with mock.patch("utils.clock.now", return_value=moment):
        yield


@contextlib.contextmanager
def token_clock(moment: datetime):
    """Pin the clock simplejwt stamps `iat`/`exp` with and checks expiry against."""
    with mock.patch("rest_framework_simplejwt.tokens.aware_utcnow", return_value=moment):
        yield


def seconds_ago(seconds: float) -> datetime:
    return datetime.now(tz=UTC) - timedelta(seconds=seconds)


def redis_down():
    """`with redis_down(): ...` makes only the revocation store unreachable."""
    return redis_layer.use(revocation=DownRedis())


def set_active(user, active: bool, capture) -> None:
    """Save the user's new is_active and run the on-commit hooks, as a committed admin edit would."""
    with capture(execute=True):
        user.is_active = active
        user.save()
