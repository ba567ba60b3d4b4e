"""CORS for a web app on its own origin (django-cors-headers, configured in resee/settings.py):
off unless origins are listed; a preflight is answered above everything, with no token, throttle
or Redis call and no cache count; answers expose the headers a client of the cache reads;
credentials (the browser session's cookie) for the listed origins only, never with '*'."""

import pytest
from django.core import checks
from django.test import override_settings

from tests.helpers import warm
from utils.cache_utils.metrics import REQUESTS

APP = "https://app.example"
TODAY = "/api/review/today/"


@pytest.fixture
def cors():
    """What resee/settings.py makes of CORS_ALLOWED_ORIGINS=https://app.example."""
    with override_settings(CORS_ALLOWED_ORIGINS=[APP], CORS_ALLOW_CREDENTIALS=True):
        yield


def preflight(client, path: str = TODAY, origin: str = APP, method: str = "GET"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, if-none-match",
    )


def cache_counts(endpoint: str = "today") -> float:
    return sum(REQUESTS.labels(endpoint=endpoint, result=result)._value.get() for result in ("hit", "miss", "stale"))


@pytest.mark.usefixtures("cors")
def test_a_preflight_from_the_web_app_is_answered_with_no_token_throttle_or_redis_call(anon, round_trips):
    counted = cache_counts()
    round_trips.clear()

    response = preflight(anon)

    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert set(response["Access-Control-Allow-Headers"].split(", ")) == {
        "authorization",
        "content-type",
        "if-none-match",
        "idempotency-key",
    }
    assert response["Access-Control-Max-Age"] == "86400"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert round_trips == []
    assert cache_counts() == counted


@pytest.mark.usefixtures("cors")
def test_answers_to_the_web_app_expose_the_cache_headers_hits_included(alice):
    warm(alice, "today")
    response = alice.get(TODAY, HTTP_ORIGIN=APP)
    assert response["X-Cache"] == "HIT"
    assert response["Access-Control-Allow-Origin"] == APP
    assert set(response["Access-Control-Expose-Headers"].split(", ")) == {
        "ETag",
        "X-Cache",
        "Retry-After",
        "Idempotent-Replayed",
    }
    revalidated = alice.get(TODAY, HTTP_ORIGIN=APP, HTTP_IF_NONE_MATCH=response["ETag"])
    assert (revalidated.status_code, revalidated["Access-Control-Allow-Origin"]) == (304, APP)


@pytest.mark.usefixtures("cors")
def test_another_origin_gets_no_cors_headers(anon, alice):
    for response in (
        preflight(anon, origin="https://evil.example"),
        alice.get(TODAY, HTTP_ORIGIN="https://evil.example"),
    ):
        assert "Access-Control-Allow-Origin" not in response
        assert "Access-Control-Allow-Credentials" not in response


@pytest.mark.usefixtures("cors")
def test_the_web_app_may_send_the_refresh_cookie_with_a_refresh(anon):
    response = preflight(anon, path="/api/auth/token/refresh/", method="POST")
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Allow-Credentials"] == "true"


def test_credentials_with_every_origin_allowed_is_a_system_check_error():
    with override_settings(CORS_ALLOW_ALL_ORIGINS=True, CORS_ALLOW_CREDENTIALS=True):
        assert "resee.E003" in {message.id for message in checks.run_checks(tags=[checks.Tags.security])}
    with override_settings(CORS_ALLOW_ALL_ORIGINS=False, CORS_ALLOWED_ORIGINS=[APP], CORS_ALLOW_CREDENTIALS=True):
        assert "resee.E003" not in {message.id for message in checks.run_checks(tags=[checks.Tags.security])}


@pytest.mark.usefixtures("cors")
def test_the_admin_stays_same_origin(anon):
    assert "Access-Control-Allow-Origin" not in preflight(anon, path="/admin/login/", method="POST")


def test_with_no_origin_listed_cors_is_off(anon, alice):
    assert "Access-Control-Allow-Origin" not in preflight(anon)
    assert "Access-Control-Allow-Origin" not in alice.get(TODAY, HTTP_ORIGIN=APP)
