"""The cache is a security boundary: whatever users write and ask, cached or not, every answer
holds only the requester's objects and equals what the database says for that requester.

Users share titles, category names (hence slugs) and search strings on purpose, so that an
entry shared across users, or a filter leaking across owners, would show.
"""

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from content.models import Category, Content
from content.serializers import CONTENT_ORDERINGS
from review.models import ReviewHistory, ReviewSchedule
from tests.helpers import cache_off

# Every test here runs on each Redis topology (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("redis_topology")

USERS = ("alice", "bob", "carol")
TITLES = ("apple", "Apple pie", "banana", "cherry tart", "ünïcode ✓")
CATEGORIES = ("Math", "Lang")
SEARCHES = ("", "apple", "APPLE", "pie", "tart", "ü", "*", "%", "_", "a:b", "[x]")

writes = st.lists(
    st.tuples(st.sampled_from(range(len(USERS))), st.sampled_from(TITLES), st.sampled_from((None, *CATEGORIES))),
    max_size=3,
)
completions = st.lists(
    st.tuples(st.sampled_from(range(len(USERS))), st.sampled_from([r for r, _ in ReviewHistory.RESULTS])), max_size=2
)
slugs = st.sampled_from((None, "math", "lang", "nothing"))
content_params = st.fixed_dictionaries(
    {},
    optional={
        "category_slug": slugs.filter(bool),
        "search": st.sampled_from(SEARCHES),
        "ordering": st.sampled_from(CONTENT_ORDERINGS),
        "page": st.integers(1, 3),
        "page_size": st.integers(1, 4),
    },
)
today_params = st.fixed_dictionaries({}, optional={"category_slug": slugs.filter(bool)})
reads = st.lists(
    st.tuples(
        st.sampled_from(range(len(USERS))),
        st.one_of(
            st.tuples(st.just("/api/content/"), content_params),
            st.tuples(
                st.just("/api/review/today/"), st.fixed_dictionaries({}, optional={"category_slug": slugs.filter(bool)})
            ),
            st.tuples(st.just("/api/analytics/stats/"), st.just({})),
        ),
    ),
    min_size=1,
    max_size=3,
)


@pytest.fixture
def clients(make_client):
    clients = [make_client(name) for name in USERS]
    for client in clients:
        for name in CATEGORIES:
            assert client.post("/api/content/categories/", {"name": name}).status_code == 201
    return clients


def owned_ids(client, url: str) -> set[int]:
    if url == "/api/review/today/":
        return set(ReviewSchedule.objects.filter(owner=client.user).values_list("id", flat=True))
    return set(Content.objects.filter(owner=client.user).values_list("id", flat=True))


_bodies = itertools.count()


def write(client, title: str, category: str | None) -> None:
    body = {"title": title, "body": f"card {next(_bodies)}"}  # an owner's cards are distinct
    if category:
        body["category_id"] = Category.objects.get(owner=client.user, name=category).pk
    assert client.post("/api/content/", body, format="json").status_code == 201


def complete(client, result: str) -> None:
    content = Content.objects.filter(owner=client.user).order_by("?").first()
    if content is not None:
        response = client.post("/api/review/complete/", {"content_id": content.pk, "result": result}, format="json")
        assert response.status_code == 200, response.content


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(writes=writes, completions=completions, reads=reads)
def test_every_answer_holds_only_the_requesters_objects_and_equals_the_uncached_one(
    clients, writes, completions, reads
):
    for user, title, category in writes:
        write(clients[user], title, category)
    for user, result in completions:
        complete(clients[user], result)
    for first, (url, params) in reads:
        # Every user asks the same thing, so a key shared across users would hand one the other's entry.
        for user in [*range(first, len(USERS)), *range(first)]:
            assert_isolated(clients[user], url, params)


def assert_isolated(client, url: str, params: dict) -> None:
    cached = client.get(url, params)
    with cache_off():
        truth = client.get(url, params)
    assert cached.status_code == truth.status_code, (url, params, cached.content)
    assert cached.status_code in (200, 404), (url, params, cached.content)
    if cached.status_code != 200:
        return
    again = client.get(url, params)
    assert again["X-Cache"] == "HIT"
    assert cached.json() == truth.json() == again.json(), (client.user.username, url, params)
    payload = cached.json()
    if "results" in payload:
        assert {row["id"] for row in payload["results"]} <= owned_ids(client, url), (client.user.username, url, params)
    else:
        assert payload["total_contents"] == Content.objects.filter(owner=client.user).count()
        assert payload["total_reviews"] == ReviewHistory.objects.filter(user=client.user).count()
