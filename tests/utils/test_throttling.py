import json
from types import SimpleNamespace

import pytest
from rest_framework.throttling import SimpleRateThrottle

from tests.helpers import RecordingClient
from tests.servers import DownRedis, GunicornServer, app_env
from utils import clock, redis_layer

WINDOW_START = 1_800_000_000.0  # a minute and an hour boundary: 2027-01-15 08:00:00 UTC


@pytest.fixture
def tight_rates(monkeypatch):
    # Note: DRF reads the rates once at import, so the class attribute is what must change.
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "auth", "2/min")


@pytest.fixture(autouse=True)
def throttle_clock(monkeypatch):
    """The throttle's clock, 20 s into a minute window unless a test moves it: no test can
    straddle a window boundary by accident."""
    frozen = SimpleNamespace(now=WINDOW_START + 20)
    monkeypatch.setattr(clock, "timestamp", lambda: frozen.now)
    return frozen


def test_a_user_over_the_rate_gets_429_with_retry_after(alice, tight_rates):
    statuses = [alice.get("/api/review/today/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = alice.get("/api/review/today/")
    assert int(response["Retry-After"]) > 0
    assert "detail" in response.json()


def test_retry_after_is_the_rest_of_the_window_and_the_next_window_starts_afresh(alice, tight_rates, throttle_clock):
    for _ in range(3):
        alice.get("/api/review/today/")
    throttle_clock.now = WINDOW_START + 45.5
    assert alice.get("/api/review/today/")["Retry-After"] == "15"  # 14.5 s left, rounded up

    throttle_clock.now = WINDOW_START + 60
    assert [alice.get("/api/review/today/").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_user_limit_is_per_user(alice, bob, tight_rates):
    for _ in range(3):
        alice.get("/api/review/today/")
    assert alice.get("/api/review/today/").status_code == 429
    assert bob.get("/api/review/today/").status_code == 200


def test_login_attempts_are_limited_per_client(anon, make_user, tight_rates):
    make_user("carol")
    attempts = [anon.post("/api/auth/token/", {"username": "carol", "password": "wrong"}).status_code for _ in range(3)]
    assert attempts == [401, 401, 429]


def test_a_throttle_check_is_one_redis_round_trip(alice, swap_redis):
    recorder = RecordingClient(redis_layer.connect(redis_layer.THROTTLE))
    swap_redis(throttle=recorder)
    alice.get("/api/analytics/stats/")
    assert recorder.commands == ["pipeline.execute"]  # the user throttle; the anon one skips users


def test_requests_are_allowed_when_the_throttle_store_is_down(alice, tight_rates, swap_redis):
    swap_redis(throttle=DownRedis())
    assert [alice.get("/api/content/categories/").status_code for _ in range(5)] == [200] * 5


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_limits_hold_across_gunicorn_workers_sharing_the_redis_counters(make_client, tmp_path):
    """Requests on fresh connections land on both workers; the limit counts them all once. The
    workers' throttle clock starts at an hour boundary, so every request falls in one window."""
    token = make_client("alice").tokens["access"]
    env = app_env(
        THROTTLE_USER_RATE="12/hour",
        THROTTLE_AUTH_RATE="4/hour",
        THROTTLE_ANON_RATE="100/hour",
        TEST_CLOCK_START=str(WINDOW_START),
    )
    with GunicornServer(tmp_path, env, workers=2, config="tests/gunicorn_clock.conf.py") as server:
        burst = server.on_every_worker("GET", "/api/content/categories/", token=token)  # both count
        rest = [server.request("GET", "/api/content/categories/", token=token) for _ in range(max(2, 20 - len(burst)))]
        login = [
            server.request("POST", "/api/auth/token/", body='{"username": "alice", "password": "x"}') for _ in range(8)
        ]
    statuses = burst + [status for status, _, _ in rest]
    assert statuses.count(200) == 12 and statuses.count(429) == len(statuses) - 12, statuses
    assert [status for status, _, _ in rest][-2:] == [429, 429]
    # The window opened when the workers started: nearly all of it is left.
    assert all(3500 < int(headers["Retry-After"]) <= 3600 for status, headers, _ in rest if status == 429)
    assert json.loads(rest[-1][2])["detail"]
    assert [status for status, _, _ in login] == [401] * 4 + [429] * 4
