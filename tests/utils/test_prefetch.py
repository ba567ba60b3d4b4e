"""utils.prefetch: an authenticated request asks Redis once for its revocation check, its throttle
counters and its cache lookup, and every part keeps its own rules."""

import pytest
from rest_framework.throttling import SimpleRateThrottle

from review import selectors as review_selectors
from tests.helpers import HIT, MISS, URLS, create_content, fetch, seed
from utils import clock

CATEGORIES_URL = "/api/content/categories/"


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


def test_an_authenticated_request_without_the_cache_is_one_round_trip(alice, round_trips):
    alice.get(CATEGORIES_URL)
    round_trips.clear()
    assert alice.get(CATEGORIES_URL).status_code == 200
    assert len(round_trips) == 1, round_trips


def test_bad_parameters_are_a_400_after_the_round_trip_of_the_checks(alice, round_trips):
    alice.get(URLS["content"])
    round_trips.clear()  # the connections' own handshakes are done
    response = alice.get(URLS["content"], {"page": "abc"})
    assert response.status_code == 400 and "page" in response.json()
    assert len(round_trips) == 1, round_trips


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


def test_a_revoked_token_is_refused_before_the_cache_answers(alice):
    alice.get(URLS["today"]), alice.get(URLS["today"])  # warm: the next GET would be a HIT
    assert alice.post("/api/auth/logout/").status_code == 204
    response = alice.get(URLS["today"])
    assert response.status_code == 401
    assert "X-Cache" not in response


def test_a_window_that_turns_between_the_round_trip_and_the_check_costs_no_second_trip(alice, round_trips, monkeypatch):
    alice.get(CATEGORIES_URL)
    round_trips.clear()
    times = iter([1_800_000_059.999])  # the prefetch's reading, then the next window

    monkeypatch.setattr(clock, "timestamp", lambda: next(times, 1_800_000_060.5))
    assert alice.get(CATEGORIES_URL).status_code == 200
    assert len(round_trips) == 1, round_trips
