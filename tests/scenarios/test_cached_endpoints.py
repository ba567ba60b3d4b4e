"""The three cached endpoints end to end: GET /api/review/today/, /api/analytics/stats/ and
/api/content/ through utils.cache_utils.

A first GET is a MISS, the same GET again a HIT that serves the stored bytes without SQL; each
user and each parameter set has its own entry; the date is part of the key; a Redis failure
degrades to BYPASS; authentication is checked before the cache is.
"""

import random
import string
from datetime import datetime, timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from django.utils import timezone
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from content import selectors as content_selectors
from content.services import category_create, content_create
from review import selectors as review_selectors
from tests.helpers import (
    BYPASS,
    ENDPOINTS,
    HIT,
    MISS,
    URLS,
    api_complete,
    cache_off,
    committed,
    create_content,
    fetch,
    seed,
    set_learner,
    titles,
    uncached,
    warm,
)
from tests.servers import DownRedis
from utils import redis_layer

# Every test here runs on each Redis topology (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("redis_topology")


def local_moment(day, hour: int, minute: int) -> datetime:
    """`hour:minute` of `day` in settings.TIME_ZONE, as an aware datetime."""
    return timezone.make_aware(datetime(day.year, day.month, day.day, hour, minute))


class Clock:
    """What `utils.clock.now()` answers while the `clock` fixture is active."""

    def __init__(self, moment: datetime):
        self.now = moment


@pytest.fixture
def clock(monkeypatch) -> Clock:
    """Freeze utils.clock.now at midday of an ordinary day; tests move `clock.now`.

    Not autouse: revocation cut-offs are taken from this clock too, so the authentication tests
    must run on the real one."""
    frozen = Clock(local_moment(datetime(2024, 5, 15), 12, 0))
    monkeypatch.setattr("utils.clock.now", lambda: frozen.now)
    return frozen


def requests_counted(endpoint: str, result: str) -> float:
    value = REGISTRY.get_sample_value("resee_cache_requests_total", {"endpoint": endpoint, "result": result})
    return value or 0.0


# --- Hit and miss --------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_first_get_is_a_miss_and_the_same_get_again_a_hit_with_identical_bytes_and_etag(alice, endpoint):
    seed(alice)

    first = fetch(alice, endpoint, cache=MISS)
    second = fetch(alice, endpoint, cache=HIT)

    assert second.content == first.content
    assert second["ETag"] == first["ETag"]
    assert second["Content-Type"] == "application/json"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_hit_makes_no_sql_query(alice, endpoint, django_assert_num_queries):
    seed(alice)
    fetch(alice, endpoint, cache=MISS)

    with django_assert_num_queries(0):
        fetch(alice, endpoint, cache=HIT)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_miss_does_query_the_database(alice, endpoint, django_assert_max_num_queries):
    """The other side of the zero-query hit: the counter does see the compute's queries."""
    seed(alice)
    with pytest.raises(pytest.fail.Exception):
        with django_assert_max_num_queries(0):
            fetch(alice, endpoint, cache=MISS)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_cached_body_is_what_the_endpoint_answers_with_the_cache_off(alice, endpoint):
    seed(alice)

    miss = fetch(alice, endpoint, cache=MISS)
    hit = fetch(alice, endpoint, cache=HIT)
    truth = uncached(alice, endpoint)

    assert hit.json() == miss.json() == truth.json()
    assert hit.content == truth.content


def test_the_cached_answers_hold_the_seeded_data(alice):
    """Guards the comparisons above against comparing two empty answers."""
    seed(alice)
    warm(alice, "today")

    assert sorted(titles(fetch(alice, "today", cache=HIT))) == ["bonjour", "hola"]
    assert titles(warm(alice, "content")) == ["pi", "bonjour", "hola"]
    stats = warm(alice, "stats").json()
    assert (stats["total_contents"], stats["total_reviews"], stats["reviews_today"]) == (3, 1, 1)


@pytest.mark.parametrize("variant", [pytest.param({"search": "o"}, id="search"), {"ordering": "title"}])
def test_a_search_or_another_ordering_gets_its_own_entry(alice, variant):
    seed(alice)
    warm(alice, "content")

    response = fetch(alice, "content", variant, cache=MISS)

    assert response.json() == uncached(alice, "content", variant).json()
    assert fetch(alice, "content", variant, cache=HIT).content == response.content
    assert fetch(alice, "content", cache=HIT).json() == uncached(alice, "content").json()


INDEXED_VARIANTS = [
    pytest.param({"category_slug": "langs"}, id="category_slug"),
    pytest.param({"page_size": "1"}, id="page_size"),
    pytest.param({"page_size": "1", "page": "2"}, id="page"),
    pytest.param({"category_slug": "langs", "page_size": "1", "page": "2"}, id="category page"),
]


@pytest.mark.parametrize("variant", INDEXED_VARIANTS)
def test_pages_and_category_filters_are_taken_out_of_the_users_one_index(alice, variant):
    seed(alice)
    warm(alice, "content")

    response = fetch(alice, "content", variant, cache=HIT)

    truth = uncached(alice, "content", variant)
    assert (response.content, response["ETag"]) == (truth.content, truth["ETag"])  # byte for byte


def test_a_page_past_the_end_of_the_index_is_the_same_404(alice):
    seed(alice)
    warm(alice, "content")
    response = fetch(alice, "content", {"page": "9"}, status=404)
    with cache_off():
        assert response.json() == fetch(alice, "content", {"page": "9"}, status=404).json()


@pytest.mark.parametrize("limit", ["INDEX_MAX_CARDS", "INDEX_MAX_BYTES"])
def test_a_list_longer_than_the_index_holds_has_an_entry_per_page(alice, monkeypatch, limit):
    seed(alice)
    monkeypatch.setattr(content_selectors, limit, 2)  # three cards, hundreds of bytes: the index is cut
    warm(alice, "content")
    page = {"page_size": "1", "page": "3"}
    response = fetch(alice, "content", page, cache=MISS)
    assert response.json() == uncached(alice, "content", page).json()
    assert fetch(alice, "content", page, cache=HIT).content == response.content


def test_a_cached_page_never_carries_another_requests_query_string_in_its_links(alice):
    """Only the validated parameters are in the key, so next/previous must be built from them
    alone: a parameter the key does not hold (a tracking tag, a cache buster) is refused, never
    stored and then served to every later request of that page."""
    seed(alice)
    tagged = {"page_size": "1", "utm_source": "newsletter"}
    assert fetch(alice, "content", tagged, status=400).json() == {"utm_source": ["Unknown query parameter."]}
    blank = fetch(alice, "content", {"page_size": "1", "search": ""}, cache=MISS)
    assert "search" not in blank.json()["next"]

    response = fetch(alice, "content", {"page_size": "1"})

    assert response.json()["next"].endswith("/api/content/?ordering=-created_at&page=2&page_size=1")
    assert response.json() == uncached(alice, "content", {"page_size": "1"}).json()


def test_page_one_spelled_out_is_the_default_page_entry(alice):
    """page and page_size enter the key as validated numbers, not as the raw query string."""
    seed(alice)
    warm(alice, "content")
    fetch(alice, "content", {"page": "1", "page_size": "20"}, cache=HIT)


def test_todays_list_of_a_category_is_taken_out_of_the_users_one_list(alice):
    seed(alice)
    create_content(alice, "loose card")
    warm(alice, "today")

    filtered = fetch(alice, "today", {"category_slug": "langs"}, cache=HIT)

    assert sorted(titles(filtered)) == ["bonjour", "hola"]
    truth = uncached(alice, "today", {"category_slug": "langs"})
    assert (filtered.content, filtered["ETag"]) == (truth.content, truth["ETag"])  # byte for byte
    assert sorted(titles(fetch(alice, "today", cache=HIT))) == ["bonjour", "hola", "loose card"]


def test_a_category_filter_fills_the_users_one_list_on_a_miss(alice):
    seed(alice)
    assert titles(fetch(alice, "today", {"category_slug": "langs"}, cache=MISS)) == ["hola", "bonjour"]
    assert sorted(titles(fetch(alice, "today", cache=HIT))) == ["bonjour", "hola"]


def test_a_category_filter_reaching_past_the_shared_cards_is_its_own_entry(alice, monkeypatch):
    seed(alice)
    monkeypatch.setattr(review_selectors, "SHARED_MAX_CARDS", 1)  # two cards of langs are due
    warm(alice, "today")
    filtered = fetch(alice, "today", {"category_slug": "langs"}, cache=MISS)
    assert filtered.json() == uncached(alice, "today", {"category_slug": "langs"}).json()
    assert fetch(alice, "today", {"category_slug": "langs"}, cache=HIT).content == filtered.content


TODAY_VARIANTS = [
    pytest.param({"page_size": "1"}, id="page_size"),
    pytest.param({"page_size": "1", "page": "3"}, id="last page"),
    pytest.param({"category_slug": "langs", "page_size": "1", "page": "2"}, id="category page"),
    pytest.param({"category_slug": "none-such"}, id="unknown category"),
]


@pytest.mark.parametrize("variant", TODAY_VARIANTS)
def test_todays_pages_and_category_filters_are_taken_out_of_the_users_one_shared_entry(alice, variant):
    seed(alice)
    create_content(alice, "loose card")
    warm(alice, "today")

    response = fetch(alice, "today", variant, cache=HIT)

    truth = uncached(alice, "today", variant)
    assert (response.content, response["ETag"]) == (truth.content, truth["ETag"])  # byte for byte


def test_a_today_page_past_the_end_is_the_same_404(alice):
    seed(alice)
    warm(alice, "today")
    response = fetch(alice, "today", {"page": "2"}, status=404)
    with cache_off():
        assert response.json() == fetch(alice, "today", {"page": "2"}, status=404).json()


@pytest.mark.parametrize("limit", ["SHARED_MAX_CARDS", "SHARED_MAX_BYTES"])
def test_a_today_page_past_what_the_shared_entry_holds_has_its_own_entry(alice, monkeypatch, limit):
    seed(alice)
    create_content(alice, "loose card")
    monkeypatch.setattr(review_selectors, limit, 1)  # one card, or no card, fits
    warm(alice, "today", {"page_size": "1"})
    page = {"page_size": "1", "page": "2"}

    response = fetch(alice, "today", page, cache=MISS)

    assert response.json() == uncached(alice, "today", page).json()
    assert fetch(alice, "today", page, cache=HIT).content == response.content


def test_no_stored_entry_is_over_a_megabyte_even_with_200_due_cards_of_20_kb(alice):
    """Bodies that do not compress much: a page of a hundred such cards is two megabytes, which is
    served but never stored; the first pages still come out of the shared entry."""
    set_learner(alice, new_cards_per_day=200)  # all 200 new cards today, past the default limit
    rng = random.Random(27)
    with committed():
        for i in range(200):
            body = "".join(rng.choices(string.ascii_letters + string.digits, k=20_000))
            content_create(owner_id=alice.user.id, title=f"card {i}", body=body)
    reads = [("today", {}), ("today", {"page": "2"}), ("today", {"page_size": "100"}), ("content", {})]

    for endpoint, params in reads:
        assert fetch(alice, endpoint, params).json() == uncached(alice, endpoint, params).json()

    assert fetch(alice, "today", cache=HIT)["X-Cache"] == HIT
    assert fetch(alice, "today", {"page_size": "100"}, cache=MISS).json()["count"] == 200  # not stored
    cache = redis_layer.client(redis_layer.CACHE)
    sizes = [cache.strlen(key) for key in cache.scan_iter(match=f"*{{u{alice.user.id}}}*", _type="STRING")]
    assert len(sizes) >= 4 and max(sizes) <= 2**20


def test_a_completion_shows_in_a_categorys_list_taken_out_of_the_users_one_list(alice):
    cards = seed(alice)
    warm(alice, "today")
    fetch(alice, "today", {"category_slug": "langs"}, cache=HIT)

    api_complete(alice, cards["hola"]["id"], "forgot")

    filtered = fetch(alice, "today", {"category_slug": "langs"}, cache=MISS)
    assert titles(filtered) == ["bonjour"]
    assert filtered.json() == uncached(alice, "today", {"category_slug": "langs"}).json()


def test_the_host_the_client_used_is_part_of_the_content_list_key(alice):
    """next/previous are absolute URLs: an entry made for one origin must not serve another."""
    seed(alice)
    page = {"page_size": "1"}
    assert warm(alice, "content", page).json()["next"].startswith("http://testserver/")

    # Note: the pages are taken out of the user's one index, which holds no link: each origin's
    # links are built as the page is served, from the validated query alone.
    other_host = fetch(alice, "content", page, HTTP_HOST="localhost")
    https = fetch(alice, "content", page, secure=True)

    assert other_host.json()["next"].startswith("http://localhost/")
    assert https.json()["next"].startswith("https://testserver/")


# --- One entry per user and per parameter set ----------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_two_users_with_the_same_parameters_never_share_an_entry(alice, bob, endpoint):
    seed(alice, "A-")
    create_content(bob, "B-only card")
    alices = warm(alice, endpoint)

    bobs = fetch(bob, endpoint, cache=MISS)

    assert bobs.content != alices.content
    assert bobs.json() == uncached(bob, endpoint).json()
    assert fetch(alice, endpoint, cache=HIT).content == alices.content


@pytest.mark.parametrize("endpoint", ["today", "content"])
def test_a_user_only_ever_sees_their_own_cards_from_the_cache(alice, bob, endpoint):
    seed(alice, "A-")
    create_content(bob, "B-only card")
    warm(alice, endpoint)

    assert titles(fetch(bob, endpoint, cache=MISS)) == ["B-only card"]
    assert titles(fetch(bob, endpoint, cache=HIT)) == ["B-only card"]


# Pairs that a naive key (join with ':', unescaped globs, quote_plus, one-way escaping, a fixed
# cut-off instead of a hash) would map to one entry. Every one must be its own entry.
TRICKY_SEARCHES = [
    "a:b",
    "a",
    "a:search=b",
    "*",
    "x",
    "?",
    "[ab]",
    "a b",
    "a+b",
    "a%20b",
    "a%2520b",
    "café",
    "cafe",
    "caf%C3%A9",
    "{u1}",
    "!e",
    "!n",
    "",
    "y" * 199 + "1",
    "y" * 199 + "2",
]
# Note: distinct after the cut to 200 characters, as an owner's cards are.
TRICKY_TITLES = list(
    dict.fromkeys([f"note {text}"[:200] for text in TRICKY_SEARCHES if text and text not in ("a", "x")] + ["note x"])
)


def test_content_searches_that_differ_only_in_special_characters_each_get_their_own_entry(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for title in TRICKY_TITLES:
            content_create(owner_id=alice.user.id, title=title)

    first_answers = {}
    for search in TRICKY_SEARCHES:
        response = fetch(alice, "content", {"search": search, "page_size": "100"}, cache=MISS)
        first_answers[search] = response.content
    for search in TRICKY_SEARCHES:
        params = {"search": search, "page_size": "100"}
        hit = fetch(alice, "content", params, cache=HIT)
        assert hit.content == first_answers[search], search
        assert hit.json() == uncached(alice, "content", params).json(), search


def test_special_character_searches_find_exactly_their_own_card(alice, django_capture_on_commit_callbacks):
    """The entries above are not only distinct but right: each one names its own card."""
    with django_capture_on_commit_callbacks(execute=True):
        for title in TRICKY_TITLES:
            content_create(owner_id=alice.user.id, title=title)
    for search in ["a:b", "*", "x", "?", "a b", "a+b", "a%20b", "café", "cafe", "caf%C3%A9", "{u1}"]:
        assert titles(fetch(alice, "content", {"search": search}, cache=MISS)) == [f"note {search}"], search
        assert titles(fetch(alice, "content", {"search": search}, cache=HIT)) == [f"note {search}"], search


def test_two_categories_whose_slugs_differ_only_in_unicode_get_their_own_entries(
    alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        plain = category_create(owner_id=alice.user.id, name="Cafe", slug="cafe")
        accented = category_create(owner_id=alice.user.id, name="Café", slug="café")
        content_create(owner_id=alice.user.id, title="plain card", category_id=plain.id)
        content_create(owner_id=alice.user.id, title="accented card", category_id=accented.id)

    # Note: both filters are taken out of the user's one list or index: the second is already a hit.
    for endpoint, second in (("content", HIT), ("today", HIT)):
        assert titles(fetch(alice, endpoint, {"category_slug": "cafe"}, cache=MISS)) == ["plain card"]
        assert titles(fetch(alice, endpoint, {"category_slug": "café"}, cache=second)) == ["accented card"]
        assert titles(fetch(alice, endpoint, {"category_slug": "cafe"}, cache=HIT)) == ["plain card"]


# --- An entry ends with the learner's day ------------------------------------------------------


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York", "Pacific/Auckland"])
def test_todays_list_rolls_over_at_the_learners_rollover_with_the_cards_due_on_the_new_day(alice, clock, time_zone):
    """The day starts at 04:00 of the zone by default: 03:59 is the day before, 04:01 the new one."""
    day = clock.now.date()
    with override_settings(TIME_ZONE=time_zone):
        clock.now = local_moment(day + timedelta(days=1), 3, 59)
        card = create_content(alice, "due tomorrow")
        api_complete(alice, card["id"], "remembered")  # first review: rung 0, due the next day
        create_content(alice, "due today")

        before = warm(alice, "today")
        assert titles(before) == ["due today"]

        clock.now = local_moment(day + timedelta(days=1), 4, 1)
        after = fetch(alice, "today", cache=MISS)

        assert sorted(titles(after)) == ["due today", "due tomorrow"]
        assert after.json() == uncached(alice, "today").json()
        assert fetch(alice, "today", cache=HIT).content == after.content


def test_the_stats_roll_over_at_the_learners_rollover(alice, clock):
    day = clock.now.date()
    clock.now = local_moment(day + timedelta(days=1), 3, 59)
    card = create_content(alice, "reviewed late")
    api_complete(alice, card["id"], "remembered")
    assert warm(alice, "stats").json()["reviews_today"] == 1

    clock.now = local_moment(day + timedelta(days=1), 4, 1)
    after = fetch(alice, "stats", cache=MISS).json()

    assert after["reviews_today"] == 0
    assert after["current_streak_days"] == 1  # yesterday's review still counts until today is over
    assert after["reviews_per_day"][-1] == {"date": (day + timedelta(days=1)).isoformat(), "reviews": 0}
    assert after == uncached(alice, "stats").json()


def test_the_content_list_does_not_depend_on_the_date(alice, clock):
    seed(alice)
    warm(alice, "content")
    clock.now += timedelta(days=1)
    fetch(alice, "content", cache=HIT)


# --- Redis failures ------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_with_the_cache_redis_down_the_endpoint_answers_from_the_database(alice, endpoint, swap_redis):
    seed(alice)
    truth = uncached(alice, endpoint).json()
    swap_redis(cache=DownRedis())

    first = fetch(alice, endpoint, cache=BYPASS)
    second = fetch(alice, endpoint, cache=BYPASS)

    assert first.json() == second.json() == truth
    assert first["ETag"] == second["ETag"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_failed_store_still_answers_the_computed_data(alice, endpoint, monkeypatch):
    """Lookup and version claim work, only the SET of the entry fails: a MISS without an entry."""
    from utils.cache_utils import store

    seed(alice)
    real_store = store.store

    def failing_store(**kwargs):
        raise RedisConnectionError("write failed (test)")

    monkeypatch.setattr(store, "store", failing_store)
    response = fetch(alice, endpoint, cache=MISS)
    assert response.json() == uncached(alice, endpoint).json()

    monkeypatch.setattr(store, "store", real_store)
    fetch(alice, endpoint, cache=MISS)  # nothing was stored the first time
    fetch(alice, endpoint, cache=HIT)


def test_with_both_the_cache_and_the_revocation_redis_down_reads_still_work(alice, swap_redis):
    seed(alice)
    truth = uncached(alice, "today").json()
    swap_redis(cache=DownRedis(), revocation=DownRedis())

    assert fetch(alice, "today", cache=BYPASS).json() == truth


def test_the_cache_resumes_when_redis_comes_back(alice):
    seed(alice)
    with redis_layer.use(redis_layer.RedisLayer(stand_ins={redis_layer.CACHE: DownRedis()})):
        fetch(alice, "today", cache=BYPASS)
    fetch(alice, "today", cache=MISS)
    fetch(alice, "today", cache=HIT)


# --- Authentication comes before the cache -------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_logged_out_token_is_refused_even_with_the_cache_warm(alice, endpoint):
    seed(alice)
    warm(alice, endpoint)

    assert alice.post("/api/auth/logout/").status_code == 204

    response = alice.get(URLS[endpoint])
    assert response.status_code == 401, response.content
    assert "X-Cache" not in response


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_deactivated_user_is_refused_at_once_even_with_the_cache_warm(
    alice, endpoint, django_capture_on_commit_callbacks
):
    seed(alice)
    warm(alice, endpoint)

    with django_capture_on_commit_callbacks(execute=True):
        user = alice.user
        user.is_active = False
        user.save()

    response = alice.get(URLS[endpoint])
    assert response.status_code == 401, response.content
    assert "X-Cache" not in response


def test_a_request_without_a_token_is_refused_before_the_cache(alice, anon):
    seed(alice)
    warm(alice, "today")
    for endpoint in ENDPOINTS:
        response = anon.get(URLS[endpoint])
        assert response.status_code == 401
        assert "X-Cache" not in response


def test_a_deactivation_that_rolls_back_does_not_lock_the_user_out(alice):
    """Revocation happens on commit, like invalidation: a rolled-back save changes nothing."""
    seed(alice)
    warm(alice, "today")

    with pytest.raises(RuntimeError), transaction.atomic():
        user = alice.user
        user.is_active = False
        user.save()
        raise RuntimeError("roll back")

    fetch(alice, "today", cache=HIT)


# --- Metrics -------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_each_hit_adds_exactly_one_to_the_hit_counter(alice, endpoint):
    seed(alice)
    misses, hits = requests_counted(endpoint, "miss"), requests_counted(endpoint, "hit")

    fetch(alice, endpoint, cache=MISS)
    assert requests_counted(endpoint, "miss") == misses + 1
    assert requests_counted(endpoint, "hit") == hits

    for n in (1, 2, 3):
        fetch(alice, endpoint, cache=HIT)
        assert requests_counted(endpoint, "hit") == hits + n
    assert requests_counted(endpoint, "miss") == misses + 1


def test_a_hit_on_one_endpoint_counts_for_that_endpoint_only(alice):
    seed(alice)
    warm(alice, "stats")
    before = {endpoint: requests_counted(endpoint, "hit") for endpoint in ENDPOINTS}

    fetch(alice, "stats", cache=HIT)

    after = {endpoint: requests_counted(endpoint, "hit") for endpoint in ENDPOINTS}
    assert after == {**before, "stats": before["stats"] + 1}


def test_a_bypass_is_counted_as_a_bypass(alice):
    bypasses, hits = requests_counted("today", "bypass"), requests_counted("today", "hit")
    uncached(alice, "today")
    assert requests_counted("today", "bypass") == bypasses + 1
    assert requests_counted("today", "hit") == hits
