"""utils.cache_utils.read_path: a cached GET asks Redis once for its revocation check, its throttle
counters and its cache lookup, refuses in DRF's order with DRF's answers, and the start-up check
refuses a cached view the path could not serve faithfully."""

import itertools
import zlib

import pytest
from django.conf import settings
from django.test import override_settings
from prometheus_client import REGISTRY
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from accounts.authentication import RevocableJWTAuthentication
from review import selectors as review_selectors
from tests.helpers import BYPASS, HIT, MISS, URLS, create_content, fetch, seed
from utils import clock, redis_layer
from utils.cache_utils.read_path import CachedReadMixin, check_read_path, path_errors
from utils.throttling import UserRateThrottle


@pytest.mark.parametrize("endpoint", URLS)
def test_a_cache_hit_is_one_redis_round_trip_for_revocation_throttle_and_lookup(alice, endpoint, round_trips):
    url = URLS[endpoint]
    assert alice.get(url)["X-Cache"] == MISS
    round_trips.clear()
    response = alice.get(url)
    assert response.status_code == 200 and response["X-Cache"] == HIT
    assert len(round_trips) == 1, round_trips


@pytest.mark.parametrize(
    "variant, shared_cards",
    [
        pytest.param({"page_size": "1", "page": "3"}, 200, id="a page cut from the shared entry"),
        pytest.param({"category_slug": "langs", "page": "2", "page_size": "1"}, 200, id="a category page cut from it"),
        pytest.param({"page_size": "1", "page": "2"}, 1, id="a page that can never be in it"),
    ],
)
def test_a_hit_of_a_today_page_is_one_round_trip_and_no_sql(
    alice, monkeypatch, variant, shared_cards, round_trips, django_assert_num_queries
):
    seed(alice)
    create_content(alice, "loose card")
    monkeypatch.setattr(review_selectors, "SHARED_MAX_CARDS", shared_cards)
    fetch(alice, "today", variant)
    round_trips.clear()

    with django_assert_num_queries(0):
        fetch(alice, "today", variant, cache=HIT)
    assert len(round_trips) == 1, round_trips


def test_bad_parameters_are_a_400_after_the_round_trip_of_the_checks(alice, round_trips):
    alice.get(URLS["content"])
    round_trips.clear()  # the connections' own handshakes are done
    response = alice.get(URLS["content"], {"page": "abc"})
    assert response.status_code == 400 and "page" in response.json()
    assert len(round_trips) == 1, round_trips


def test_a_missing_token_is_a_401_before_bad_parameters_are_looked_at(anon, round_trips):
    response = anon.get(URLS["content"], {"page": "abc"})
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert round_trips == []


@pytest.mark.parametrize(
    ("make_request", "status"),
    [
        (lambda alice, anon: anon.get(URLS["stats"], HTTP_AUTHORIZATION="Bearer junk"), 401),
        (lambda alice, anon: alice.get(URLS["stats"], HTTP_ACCEPT="text/html"), 406),
    ],
    ids=["bad token", "not acceptable"],
)
def test_a_refused_request_gets_drfs_status_and_a_json_error(alice, anon, make_request, status):
    alice.get(URLS["stats"])
    response = make_request(alice, anon)
    assert response.status_code == status and "X-Cache" not in response
    assert response["Content-Type"] == "application/json" and "detail" in response.json()


@pytest.fixture
def three_per_minute(monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "3/min")


def test_a_revoked_token_does_not_use_up_its_users_rate(alice, three_per_minute):
    """Its counters were sent with its revocation check, then taken back."""
    revoked = alice.tokens["access"]
    assert alice.post("/api/auth/logout/").status_code == 204  # 1 of 3 (the user throttle)
    assert [alice.get(URLS["today"]).status_code for _ in range(5)] == [401] * 5
    alice.login("alice")
    assert [alice.get(URLS["today"]).status_code for _ in range(3)] == [200, 200, 429]
    alice.credentials(HTTP_AUTHORIZATION=f"Bearer {revoked}")
    assert alice.get(URLS["today"]).status_code == 401  # revoked beats throttled


def test_a_revoked_token_is_refused_before_the_cache_answers_and_refunded_in_one_more_round_trip(alice, round_trips):
    alice.get(URLS["today"]), alice.get(URLS["today"])  # warm: the next GET would be a HIT
    assert alice.post("/api/auth/logout/").status_code == 204
    assert alice.get(URLS["today"]).status_code == 401  # warms the refund's connection
    round_trips.clear()
    response = alice.get(URLS["today"])
    assert response.status_code == 401 and "X-Cache" not in response
    assert len(round_trips) == 2, round_trips  # the request's round trip, and the refund's DECR


def test_a_throttled_read_is_a_429_with_retry_after_and_drfs_message(alice, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "2/min")
    responses = [alice.get(URLS["stats"]) for _ in range(3)]
    assert [response.status_code for response in responses] == [200, 200, 429]
    assert int(responses[2]["Retry-After"]) >= 1
    assert responses[2].json()["detail"].startswith("Request was throttled.")


def test_a_window_that_turns_between_the_round_trip_and_the_check_costs_no_second_trip(alice, round_trips):
    with clock.use(timestamp=lambda: 1_800_000_059.0):
        alice.get(URLS["stats"]), alice.get(URLS["stats"])  # stored, and the connections warm
    round_trips.clear()
    times = iter([1_800_000_059.999])  # the round trip's reading, then the next window
    with clock.use(timestamp=lambda: next(times, 1_800_000_060.5)):
        assert alice.get(URLS["stats"]).status_code == 200
    assert len(round_trips) == 1, round_trips


@pytest.fixture
def verified(monkeypatch) -> list:
    """One item per token checked by the authentication (verified, or found verified before)."""
    calls, real = [], RevocableJWTAuthentication.get_validated_token
    monkeypatch.setattr(
        RevocableJWTAuthentication, "get_validated_token", lambda self, raw: calls.append(1) or real(self, raw)
    )
    return calls


@pytest.mark.parametrize("result", [HIT, MISS, BYPASS])
def test_a_cached_read_verifies_its_token_once_whatever_its_verdict(alice, verified, result):
    alice.get(URLS["today"])
    if result == MISS:
        alice.post("/api/content/", {"title": "a new card"})
    if result == BYPASS:
        for _ in range(settings.REDIS_BREAKER_FAILURES):
            redis_layer.breaker(redis_layer.CACHE).record_failure()
    verified.clear()
    response = alice.get(URLS["today"])
    assert response.status_code == 200 and response["X-Cache"] == result
    assert len(verified) == 1


def test_an_entry_judged_due_for_early_recompute_is_recomputed_with_one_draw(alice):
    alice.get(URLS["today"])
    draws = itertools.chain([0.0], itertools.repeat(0.999999))  # due once, then never
    with clock.use(random=lambda: next(draws)):
        assert alice.get(URLS["today"])["X-Cache"] == MISS
        assert alice.get(URLS["today"])["X-Cache"] == HIT


def _per_view(view: str) -> tuple:
    """The per-view series a GET answered 200 adds to: requests, responses, latencies."""
    samples = (
        ("django_http_requests_total_by_view_transport_method_total", {"transport": "http"}),
        ("django_http_responses_total_by_status_view_method_total", {"status": "200"}),
        ("django_http_requests_latency_seconds_by_view_method_count", {}),
    )
    labels = {"view": view, "method": "GET"}
    return tuple(REGISTRY.get_sample_value(name, {**labels, **more}) or 0.0 for name, more in samples)


def test_a_hit_counts_in_the_per_view_metrics(alice):
    alice.get(URLS["today"])
    before = _per_view("review-today")
    assert alice.get(URLS["today"])["X-Cache"] == HIT
    assert _per_view("review-today") == tuple(count + 1 for count in before)


# --- the start-up check ----------------------------------------------------------------------------


class Cached(CachedReadMixin, APIView):
    def cached_read(self, request):
        raise NotImplementedError


class OwnGet(Cached):
    def get(self, request):
        raise NotImplementedError


class OwnDispatch(Cached):
    def dispatch(self, request, *args, **kwargs):
        raise NotImplementedError


class OwnThrottleCheck(Cached):
    def check_throttles(self, request):
        raise NotImplementedError


class Authentication(RevocableJWTAuthentication):
    def authenticate(self, request):
        raise NotImplementedError


class Throttle(UserRateThrottle):
    def allow_request(self, request, view):
        raise NotImplementedError


class OwnAuthentication(Cached):
    authentication_classes = [Authentication]


class TwoAuthentications(Cached):
    authentication_classes = [RevocableJWTAuthentication, RevocableJWTAuthentication]


class OwnThrottle(Cached):
    throttle_classes = [Throttle]


def test_the_routed_cached_views_are_served_faithfully_by_the_read_path():
    assert check_read_path(None) == []
    assert path_errors(Cached) == []


@pytest.mark.parametrize(
    ("view", "named"),
    [
        (OwnGet, "OwnGet overrides get()"),
        (OwnDispatch, "OwnDispatch overrides dispatch()"),
        (OwnThrottleCheck, "OwnThrottleCheck overrides check_throttles()"),
        (OwnAuthentication, "Authentication.authenticate() adds to verify()"),
        (TwoAuthentications, "TwoAuthentications needs one authenticator"),
        (OwnThrottle, "Throttle must count in fixed windows"),
    ],
)
def test_a_cached_view_the_path_would_serve_unfaithfully_is_refused_at_start_up_by_name(view, named):
    errors = path_errors(view)
    assert len(errors) == 1 and named in errors[0].msg and errors[0].id.startswith("resee.E01")


def test_a_page_cut_from_a_compressed_shared_entry_is_served_without_inflating_it_again(alice, monkeypatch):
    with override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "COMPRESS_MIN_BYTES": 1}):
        create_content(alice, "a card")
        alice.get(URLS["content"]), alice.get(URLS["content"])  # stored, then cut once
        inflated, real = [], zlib.decompress
        monkeypatch.setattr(zlib, "decompress", lambda data, *args: inflated.append(1) or real(data, *args))
        response = alice.get(URLS["content"])
    assert response["X-Cache"] == HIT and response.json()["results"][0]["title"] == "a card"
    assert inflated == []
