"""Hostile input never gives a 5xx: odd query values, broken paging, oversized, malformed and
mistyped bodies get a 4xx with a JSON body (or a correct answer), and none of it can make two
requests share a cache entry or make one user's write drop another user's entries.

Runs on SQLite + fakeredis and, in the real run, on PostgreSQL + Redis, where a NUL character
reaching a query would be a driver error: every free-text input is refused before that.
"""

import functools
import json
import re
from urllib.parse import quote

import pytest
from django.conf import settings
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from content.models import Category, Content
from content.services import category_create, content_create
from review.models import ReviewHistory, ReviewSchedule
from review.services import review_complete
from tests.helpers import DEFAULT_PASSWORD, cache_off
from utils import clock

HOSTILE = {
    "10k characters": "x" * 10_000,
    "star": "*",
    "question mark": "?",
    "bracket": "[",
    "colon": ":",
    "newline": "\n",
    "NUL": "\x00",
}
# As they appear in a query string: percent-encoded, plus two byte sequences that are not UTF-8.
QUERY_VALUES = {name: quote(value, safe="") for name, value in HOSTILE.items()}
QUERY_VALUES.update({"invalid UTF-8 ff fe": "%ff%fe", "invalid UTF-8 c3 28": "%c3%28"})
READ_PARAMS = [
    ("/api/content/", "search"),
    ("/api/content/", "ordering"),
    ("/api/content/", "category_slug"),
    ("/api/content/", "page"),
    ("/api/content/", "page_size"),
    ("/api/review/today/", "category_slug"),
    ("/api/review/schedules/", "page"),
    ("/api/review/schedules/", "page_size"),
    ("/api/review/history/", "page"),
    ("/api/review/history/", "page_size"),
    ("/api/analytics/stats/", "unknown"),
    ("/api/content/categories/", "unknown"),
]
PAGED = ["/api/content/", "/api/review/schedules/", "/api/review/history/"]
CACHED = ["/api/content/", "/api/review/today/", "/api/analytics/stats/"]


def seed(client) -> dict:
    """A category and cards whose titles hold the hostile characters, one of them reviewed."""
    owner_id = client.user.id
    math = category_create(owner_id=owner_id, name="Math")
    cards = [
        content_create(owner_id=owner_id, title=f"{client.user.username} {text}", category_id=math.id)
        for text in ("*", "?", "[x]", "a:b", "line\nbreak", "ü")
    ]
    review_complete(user_id=owner_id, content_id=cards[0].id, result="remembered")
    schedule = ReviewSchedule.objects.get(content=cards[1])
    return {"category": math.id, "content": cards[1].id, "schedule": schedule.id}


@pytest.fixture
def users(alice, bob, django_capture_on_commit_callbacks):
    """alice and bob with look-alike data, so that an answer mixing users would show."""
    with django_capture_on_commit_callbacks(execute=True):
        alice.ids, bob.ids = seed(alice), seed(bob)
    return alice, bob


@functools.cache
def openapi() -> dict:
    return SchemaGenerator().get_schema(public=True)


def assert_json_error(response, status_range=range(400, 500)) -> dict:
    """A JSON object with a 4xx (or the given statuses) that the OpenAPI document lists."""
    request = response.wsgi_request
    assert response.status_code in status_range, (response.status_code, request.get_full_path()[:200], response.content)
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert isinstance(body, dict) and body, body
    operation = openapi()["paths"].get(re.sub(r"/[0-9]+/", "/{id}/", request.path), {}).get(request.method.lower())
    if operation is not None:
        assert str(response.status_code) in operation["responses"], (request.method, request.path)
    return body


def owned_ids(client, path: str) -> set[int]:
    if path == "/api/content/":
        return set(Content.objects.filter(owner=client.user).values_list("id", flat=True))
    if path == "/api/content/categories/":
        return set(Category.objects.filter(owner=client.user).values_list("id", flat=True))
    if path == "/api/review/history/":
        return set(ReviewHistory.objects.filter(user=client.user).values_list("id", flat=True))
    return set(ReviewSchedule.objects.filter(owner=client.user).values_list("id", flat=True))


def uncached(client, url: str):
    with cache_off():
        return client.get(url)


# --- Query strings ------------------------------------------------------------------------------


@pytest.mark.parametrize("path, param", READ_PARAMS)
def test_a_hostile_query_value_is_a_400_naming_it_or_an_answer_with_only_the_requesters_data(users, path, param):
    alice, _ = users
    # Note: one test per parameter, not per value: the users fixture is most of the cost.
    for name, value in QUERY_VALUES.items():
        url = f"{path}?{param}={value}"
        response = alice.get(url)
        if response.status_code != 200:
            assert param in assert_json_error(response, [400]), name
            continue
        payload = response.json()
        rows = payload if isinstance(payload, list) else payload.get("results", [])
        assert {row["id"] for row in rows} <= owned_ids(alice, path), name
        if path in CACHED:
            assert payload == uncached(alice, url).json(), name


@pytest.mark.parametrize("path", PAGED)
@pytest.mark.parametrize(
    "query", ["page=-1", "page=0", "page=abc", "page=%ff", "page_size=-5", "page_size=0", f"page_size={10**9}"]
)
def test_a_page_or_page_size_that_is_not_a_positive_integer_of_9_digits_is_a_400(users, path, query):
    alice, _ = users
    name = query.split("=")[0]
    message = assert_json_error(alice.get(f"{path}?{query}"), [400])[name][0]
    assert message.startswith("Must be a positive integer of at most 9 digits")


@pytest.mark.parametrize("path", PAGED)
def test_a_page_past_the_end_is_a_json_404(users, path):
    alice, _ = users
    assert_json_error(alice.get(f"{path}?page=999999999"), [404])


@pytest.mark.parametrize("path", PAGED)
def test_a_huge_page_size_is_capped_at_the_maximum(alice, path):
    maximum = settings.RESEE["MAX_PAGE_SIZE"]
    contents = Content.objects.bulk_create(Content(owner=alice.user, title=f"c{n}") for n in range(maximum + 1))
    ReviewSchedule.objects.bulk_create(
        ReviewSchedule(owner=alice.user, content=content, next_review_date=clock.local_today()) for content in contents
    )
    ReviewHistory.objects.bulk_create(
        ReviewHistory(user=alice.user, content=content, result="remembered", reviewed_at=clock.now())
        for content in contents
    )

    first = alice.get(f"{path}?page_size={10**9 - 1}")

    assert first.status_code == 200, first.content[:300]
    assert (first.json()["count"], len(first.json()["results"])) == (maximum + 1, maximum)
    assert len(alice.get(first.json()["next"]).json()["results"]) == 1


# --- Bodies -------------------------------------------------------------------------------------

# method, path (ids filled from the user's seed), a string field of the body
WRITES = [
    ("post", "/api/content/", "title"),
    ("patch", "/api/content/{content}/", "title"),
    ("post", "/api/content/categories/", "name"),
    ("patch", "/api/content/categories/{category}/", "name"),
    ("post", "/api/review/complete/", "result"),
    ("patch", "/api/review/schedules/{schedule}/", "is_active"),
    ("post", "/api/auth/register/", "username"),
    ("post", "/api/auth/token/", "username"),
    ("post", "/api/auth/token/refresh/", "refresh"),
    ("post", "/api/auth/logout/", "refresh"),
]
MULTIPART = 'multipart/form-data; boundary="b"'
NOT_JSON = [
    pytest.param("title=t", "text/plain", id="text/plain"),
    pytest.param("title=t", "application/x-www-form-urlencoded", id="form-encoded"),
    pytest.param(
        '--b\r\nContent-Disposition: form-data; name="title"\r\n\r\nt\r\n--b--\r\n', MULTIPART, id="multipart"
    ),
]


def send(client, method: str, path: str, body: str, content_type: str = "application/json"):
    return getattr(client, method)(path.format(**client.ids), body, content_type=content_type)


def valid_body_but(client, path: str, **fields) -> str:
    """A body the endpoint would accept, but for `fields`: they alone are to blame (each endpoint
    refuses the fields of the others)."""
    credentials = {"username": "new-user", "password": DEFAULT_PASSWORD}
    bodies = {
        "/api/content/": {"title": "t"},
        "/api/content/{content}/": {"title": "t"},
        "/api/content/categories/": {"name": "n"},
        "/api/content/categories/{category}/": {"name": "n"},
        "/api/review/complete/": {"content_id": client.ids["content"], "result": "forgot"},
        "/api/review/schedules/{schedule}/": {"is_active": False},
        "/api/auth/register/": credentials,
        "/api/auth/token/": credentials,
    }
    return json.dumps({**bodies.get(path, {}), **fields})


@pytest.mark.parametrize("method, path, field", WRITES)
def test_a_body_over_the_upload_limit_is_a_413(users, method, path, field):
    alice, _ = users
    body = json.dumps({field: "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE})
    detail = assert_json_error(send(alice, method, path, body), [413])["detail"]
    assert str(settings.DATA_UPLOAD_MAX_MEMORY_SIZE) in detail


@pytest.mark.parametrize("method, path, field", WRITES)
def test_a_field_of_one_megabyte_is_a_4xx(users, method, path, field):
    alice, _ = users
    body = assert_json_error(send(alice, method, path, valid_body_but(alice, path, **{field: "x" * 1_000_000})))
    # Note: the token endpoint has no length limit on usernames: a 1 MB one is a failed login.
    assert field in body or body == {"detail": "No active account found with the given credentials"}


@pytest.mark.parametrize("method, path, field", WRITES)
def test_malformed_json_is_a_400_saying_so(users, method, path, field):
    alice, _ = users
    detail = assert_json_error(send(alice, method, path, f'{{"{field}": '), [400])["detail"]
    assert detail.startswith("JSON parse error")


@pytest.mark.parametrize("body, content_type", NOT_JSON)
@pytest.mark.parametrize("method, path, field", WRITES)
def test_a_body_that_is_not_json_is_a_415(users, method, path, field, body, content_type):
    alice, _ = users
    assert_json_error(send(alice, method, path, body, content_type), [415])


# Every free-text input. A NUL that reached a query would be a psycopg DataError on PostgreSQL (a
# 500); DRF's CharField refuses it first, and these prove it still does wherever text comes in.
NUL_INPUTS = [
    ("get", "/api/content/?search=a%00b", "search"),
    ("post", "/api/content/", "title"),
    ("patch", "/api/content/{content}/", "body"),
    ("post", "/api/content/categories/", "name"),
    ("post", "/api/auth/register/", "password"),
    ("post", "/api/auth/token/", "username"),
    ("post", "/api/auth/token/refresh/", "refresh"),
]


@pytest.mark.parametrize("method, path, field", NUL_INPUTS)
def test_a_nul_character_is_a_400_before_it_reaches_the_database(users, method, path, field):
    alice, _ = users
    if method == "get":
        response = alice.get(path)
    else:
        response = send(alice, method, path, valid_body_but(alice, path, **{field: "a\x00b"}))
    assert assert_json_error(response, [400])[field] == ["Null characters are not allowed."]


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_an_unsafe_method_on_an_unknown_route_is_a_json_404_not_a_csrf_page(db, method):
    # Note: Django's test client skips CSRF checks unless told otherwise; a real client does not.
    client = Client(enforce_csrf_checks=True)
    assert_json_error(getattr(client, method)("/api/content/not-an-id/"), [404])


@pytest.mark.parametrize("path", ["/api/content/{content}/", "/api/content/categories/{category}/", "/api/content/"])
def test_options_is_a_json_405_not_a_500(users, path):
    alice, _ = users
    assert_json_error(alice.options(path.format(**alice.ids)), [405])


# --- The cache ----------------------------------------------------------------------------------

# Pairs that a careless key would merge: a separator or glob character in a value, a value that
# reads like another one once escaped or typed, long values that differ only past the key limit.
DISTINCT_QUERIES = [
    "",
    "search=",
    "search=a%3Ab",
    "search=a%253Ab",
    "search=a%3Apage_size%3D5",
    "search=a&page_size=5",
    "search=%2A",
    "search=%3F",
    "search=%5Bx%5D",
    "search=1",
    "search=%21s1",
    "search=%21n",
    "search=%C3%BC",
    "search=%25C3%25BC",
    "search=line%0Abreak",
    "search=line+break",
    "search=%ff%fe",
    f"search={'a' * 199}b",
    f"search={'a' * 199}c",
    "category_slug=math",
    "search=math",
    "ordering=title",
    "ordering=-title",
    "page_size=1&page=2",
    "page_size=2&page=1",
]


def test_distinct_content_queries_never_share_a_cache_entry(users):
    """Each query's answers equal the answer with the cache off, the second a HIT (the first may be
    one too, taken out of the user's index); for alice, then bob asking the same."""
    for client in users:
        for query in DISTINCT_QUERIES:
            url = f"/api/content/?{query}"
            first, second = client.get(url), client.get(url)
            assert (first.status_code, second["X-Cache"]) == (200, "HIT"), query
            assert first.json() == second.json() == uncached(client, url).json(), query
            assert {row["id"] for row in first.json()["results"]} <= owned_ids(client, "/api/content/")


# Writes by alice with hostile text: glob and separator characters, and `tag`, the Redis Cluster
# hash tag that every key of bob's starts with. Last: the answer of alice's that the write changes.
# (Creating a category changes no answer: utils.cache_utils.policy.)
HOSTILE_WRITES = [
    pytest.param(
        "post",
        "/api/content/",
        lambda tag, ids: {"title": f"* ? [ ] : {tag} resee:api:*", "body": "\n\x7f%ff"},
        "/api/content/",
        id="create content",
    ),
    pytest.param(
        "patch",
        "/api/content/{content}/",
        lambda tag, ids: {"title": f"{tag}:*", "body": "*" * 20_000},
        "/api/content/",
        id="edit content",
    ),
    pytest.param("delete", "/api/content/{content}/", lambda tag, ids: None, "/api/content/", id="delete content"),
    pytest.param(
        "patch",
        "/api/content/categories/{category}/",
        lambda tag, ids: {"name": "[*]", "slug": "ns-today"},
        "/api/content/",
        id="edit category",
    ),
    pytest.param(
        "delete", "/api/content/categories/{category}/", lambda tag, ids: None, "/api/content/", id="delete category"
    ),
    pytest.param(
        "post",
        "/api/review/complete/",
        lambda tag, ids: {"content_id": ids["content"], "result": "forgot"},
        "/api/analytics/stats/",
        id="complete review",
    ),
    pytest.param(
        "patch",
        "/api/review/schedules/{schedule}/",
        lambda tag, ids: {"is_active": False},
        "/api/review/today/",
        id="pause card",
    ),
]


@pytest.mark.parametrize("method, path, body, writers_answer", HOSTILE_WRITES)
def test_a_hostile_write_invalidates_the_writers_entry_and_none_of_another_users(
    users, method, path, body, writers_answer
):
    alice, bob = users
    bob_urls = [*CACHED, "/api/content/?search=%2A", "/api/review/today/?category_slug=math"]
    for client, url in [*((bob, url) for url in bob_urls), (alice, writers_answer)]:
        client.get(url)
        assert client.get(url)["X-Cache"] == "HIT", url

    payload = body(f"{{u{bob.user.id}}}", alice.ids)
    response = getattr(alice, method)(path.format(**alice.ids), payload, format="json")
    assert response.status_code in (200, 201, 204), response.content[:300]

    assert alice.get(writers_answer)["X-Cache"] == "MISS"
    for url in bob_urls:
        assert bob.get(url)["X-Cache"] == "HIT", url
