"""CORS for a web app on its own origin (django-cors-headers, configured in resee/settings.py):
off unless origins are listed; a preflight is answered above everything, with no token, throttle
or Redis call and no cache count; answers expose the headers a client of the cache reads."""

import pytest
from django.test import override_settings

from tests.helpers import warm
from utils.cache_utils.metrics import REQUESTS

APP = "https://app.example"
TODAY = "/api/review/today/"


@pytest.fixture
def cors():
    with override_settings(CORS_ALLOWED_ORIGINS=[APP]):
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
    assert "Access-Control-Allow-Credentials" not in response
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
    assert "Access-Control-Allow-Origin" not in preflight(anon, origin="https://evil.example")
    assert "Access-Control-Allow-Origin" not in alice.get(TODAY, HTTP_ORIGIN="https://evil.example")


@pytest.mark.usefixtures("cors")
def test_the_admin_stays_same_origin(anon):
    assert "Access-Control-Allow-Origin" not in preflight(anon, path="/admin/login/", method="POST")


def test_with_no_origin_listed_cors_is_off(anon, alice):
    assert "Access-Control-Allow-Origin" not in preflight(anon)
    assert "Access-Control-Allow-Origin" not in alice.get(TODAY, HTTP_ORIGIN=APP)
