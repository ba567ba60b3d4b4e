"""utils.cache_utils.middleware: a fresh hit is answered before the rest of the stack, byte for
byte as the whole stack answers it, and everything else goes on down as if it were not there."""

import itertools
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import override_settings
from django.urls import get_resolver
from prometheus_client import REGISTRY
from rest_framework.throttling import SimpleRateThrottle

from accounts.authentication import RevocableJWTAuthentication
from tests.helpers import HIT, MISS, URLS
from utils import redis_layer
from utils.cache_utils import runtime
from utils.cache_utils.middleware import _routes

FRESH_HIT = "utils.cache_utils.middleware.FreshHitMiddleware"
WITHOUT_FRESH_HIT = [name for name in settings.MIDDLEWARE if name != FRESH_HIT]
BELOW: list[str] = []  # paths of the requests that reached the bottom of the stack


class RecordingMiddleware:
    """The last middleware: it sees every request the fresh-hit middleware handed on."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        BELOW.append(request.path)
        return self.get_response(request)


@contextmanager
def stack(*clients, middleware: list[str]):
    """`clients` through `middleware` until the block ends (a test client builds its chain once)."""
    with override_settings(MIDDLEWARE=middleware):
        for client in clients:
            client.handler.load_middleware()
        try:
            yield
        finally:
            for client in clients:
                client.handler._middleware_chain = None  # rebuilt from the settings at the next request


def recorded_below(*clients):
    BELOW.clear()
    return stack(*clients, middleware=[*settings.MIDDLEWARE, f"{__name__}.RecordingMiddleware"])


def whole_stack(*clients):
    """The stack without the fresh-hit middleware: every answer comes from DRF's dispatch."""
    return stack(*clients, middleware=WITHOUT_FRESH_HIT)


def answer(response) -> tuple:
    return response.status_code, response.content, sorted(response.items())


@pytest.mark.parametrize("endpoint", URLS)
def test_a_fresh_hit_is_answered_above_the_rest_of_the_stack(alice, endpoint):
    url = URLS[endpoint]
    with recorded_below(alice):
        assert alice.get(url)["X-Cache"] == MISS
        assert BELOW == [url]
        BELOW.clear()
        hit = alice.get(url)
    assert hit.status_code == 200 and hit["X-Cache"] == HIT
    assert BELOW == []


@pytest.mark.parametrize("endpoint", URLS)
@pytest.mark.parametrize("extra", [{}, {"HTTP_ACCEPT": "application/json"}, {"HTTP_ACCEPT": "*/*"}])
def test_a_fresh_hit_has_the_status_body_and_headers_the_whole_stack_gives(alice, endpoint, extra):
    url = URLS[endpoint]
    alice.get(url)
    fast = alice.get(url, **extra)
    with whole_stack(alice):
        slow = alice.get(url, **extra)
    assert fast["X-Cache"] == slow["X-Cache"] == HIT
    assert answer(fast) == answer(slow)


def test_a_revalidated_hit_is_the_same_304_from_either_path(alice):
    etag = alice.get(URLS["today"])["ETag"]
    fast = alice.get(URLS["today"], HTTP_IF_NONE_MATCH=etag)
    with whole_stack(alice):
        slow = alice.get(URLS["today"], HTTP_IF_NONE_MATCH=etag)
    assert fast.status_code == 304
    assert answer(fast) == answer(slow)


@pytest.mark.parametrize(
    "make_request",
    [
        pytest.param(lambda alice, anon: anon.get(URLS["today"]), id="no token"),
        pytest.param(lambda alice, anon: anon.get(URLS["today"], HTTP_AUTHORIZATION="Bearer junk"), id="bad token"),
        pytest.param(lambda alice, anon: alice.get(URLS["stats"], HTTP_ACCEPT="text/html"), id="not acceptable"),
        pytest.param(lambda alice, anon: alice.get(URLS["content"] + "?page=0"), id="bad page"),
        pytest.param(lambda alice, anon: alice.get(URLS["today"] + "?category_slug=a%20b"), id="bad filter"),
    ],
)
def test_a_refused_request_gets_the_answer_the_whole_stack_gives(alice, anon, make_request):
    for url in URLS.values():
        alice.get(url)  # warm: the refusal must not come from the cache
    fast = make_request(alice, anon)
    with whole_stack(alice, anon):
        slow = make_request(alice, anon)
    assert 400 <= fast.status_code < 500
    assert answer(fast) == answer(slow)


def test_a_revoked_token_is_refused_above_and_its_count_refunded_in_one_more_round_trip(alice, round_trips):
    alice.get(URLS["today"])
    alice.post("/api/auth/logout/")
    assert alice.get(URLS["today"]).status_code == 401  # warms the refund's connection
    round_trips.clear()
    with recorded_below(alice):
        refused = alice.get(URLS["today"])
    assert refused.status_code == 401
    assert BELOW == []  # refused above the stack, not asked again below
    assert len(round_trips) == 2, round_trips  # the request's round trip, and the refund's DECR


def test_a_throttled_request_is_the_same_429_from_either_path(alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "2/min")
    statuses = [alice.get(URLS["stats"]).status_code for _ in range(3)]
    with whole_stack(alice):
        slow = alice.get(URLS["stats"])
    fast = alice.get(URLS["stats"])
    assert statuses == [200, 200, 429]
    assert fast.status_code == slow.status_code == 429
    assert fast["Retry-After"] and fast.json() == slow.json()


@pytest.mark.parametrize("endpoint", URLS)
def test_a_miss_handed_down_the_stack_asks_redis_no_more_than_the_whole_stack(alice, endpoint, round_trips):
    url = URLS[endpoint]
    sent = {}
    for path, middleware in (("fast", settings.MIDDLEWARE), ("slow", WITHOUT_FRESH_HIT)):
        with stack(alice, middleware=middleware):
            alice.get(url)
            alice.post("/api/content/", {"title": f"a card for the {path} path"})  # bumps every namespace
            round_trips.clear()
            assert alice.get(url)["X-Cache"] == MISS
            sent[path] = list(round_trips)
    assert sent["fast"] == sent["slow"]


def test_an_entry_judged_due_for_early_recompute_is_recomputed_below(alice):
    alice.get(URLS["today"])
    draws = itertools.chain([0.0], itertools.repeat(0.999999))  # due once, then never
    with runtime.use(random=lambda: next(draws)), recorded_below(alice):
        response = alice.get(URLS["today"])
    # Note: a second XFetch draw below would say "not due" and serve the entry: one request,
    # one draw, whichever path judged it.
    assert response["X-Cache"] == MISS and BELOW == [URLS["today"]]


def _per_view(view: str) -> tuple:
    """The per-view series a GET answered 200 adds to: requests, responses, latencies."""
    samples = (
        ("django_http_requests_total_by_view_transport_method_total", {"transport": "http"}),
        ("django_http_responses_total_by_status_view_method_total", {"status": "200"}),
        ("django_http_requests_latency_seconds_by_view_method_count", {}),
    )
    labels = {"view": view, "method": "GET"}
    return tuple(REGISTRY.get_sample_value(name, {**labels, **more}) or 0.0 for name, more in samples)


def test_a_fresh_hit_counts_in_the_per_view_metrics_as_a_dispatched_one(alice):
    alice.get(URLS["today"])
    before = _per_view("review-today")
    assert alice.get(URLS["today"])["X-Cache"] == HIT
    with whole_stack(alice):
        assert alice.get(URLS["today"])["X-Cache"] == HIT
    assert _per_view("review-today") == tuple(count + 2 for count in before)


def test_only_parameterless_routes_of_cached_reads_are_answered_above():
    assert sorted(_routes(get_resolver())) == sorted(URLS.values())


@pytest.fixture
def verified(monkeypatch) -> list:
    """One item per token checked by the authentication (verified, or found verified before)."""
    calls, real = [], RevocableJWTAuthentication.get_validated_token
    monkeypatch.setattr(
        RevocableJWTAuthentication, "get_validated_token", lambda self, raw: calls.append(1) or real(self, raw)
    )
    return calls


def test_with_the_caches_circuit_open_a_read_goes_straight_down_and_is_authenticated_once(alice, verified):
    alice.get(URLS["today"])
    for _ in range(settings.REDIS_BREAKER_FAILURES):
        redis_layer.breaker(redis_layer.CACHE).record_failure()
    verified.clear()
    with recorded_below(alice):
        response = alice.get(URLS["today"])
    assert response.status_code == 200 and response["X-Cache"] == "BYPASS"
    assert BELOW == [URLS["today"]] and len(verified) == 1


def test_a_miss_handed_down_is_authenticated_once(alice, verified):
    alice.get(URLS["today"])  # the process's first use of the cache settles its debts, if any
    verified.clear()
    with recorded_below(alice):
        assert alice.get(URLS["stats"])["X-Cache"] == MISS
    assert BELOW == [URLS["stats"]] and len(verified) == 1
