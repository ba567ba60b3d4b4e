"""What the tests of the cached endpoints share: their URLs, the X-Cache values, the ground truth
(the same request with the cache off), and the writes and reads the scenarios are made of."""

import functools

from django.conf import settings
from django.test import TestCase, override_settings

from content.services import category_create, content_create
from review.services import review_complete

URLS = {
    "today": "/api/review/today/",
    "stats": "/api/analytics/stats/",
    "content": "/api/content/",
}
ENDPOINTS = tuple(URLS)
HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"


def cache_off():
    """Every read computed from the database (X-Cache: BYPASS): what the cache must agree with."""
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "ENABLED": False})


# What pytest-django's `django_capture_on_commit_callbacks` fixture is: `with committed():` runs
# the block's on-commit callbacks at its end, as a real commit would.
committed = functools.partial(TestCase.captureOnCommitCallbacks, execute=True)


def fetch(client, endpoint: str, params: dict | None = None, *, cache: str | None = None, status: int = 200, **extra):
    """GET a cached endpoint; check the status and, if given, the X-Cache result."""
    response = client.get(URLS[endpoint], params or {}, **extra)
    assert response.status_code == status, (endpoint, params, response.status_code, response.content)
    if cache is not None:
        assert response["X-Cache"] == cache, f"{endpoint} {params or {}}: X-Cache {response['X-Cache']}, not {cache}"
    return response


def warm(client, endpoint: str, params: dict | None = None, **extra):
    """Fill the entry (whatever the first GET was) and prove it is there: returns the HIT."""
    fetch(client, endpoint, params, **extra)
    return fetch(client, endpoint, params, cache=HIT, **extra)


def uncached(client, endpoint: str, params: dict | None = None, **extra):
    """What the endpoint answers with the cache switched off: the ground truth."""
    with cache_off():
        return fetch(client, endpoint, params, cache=BYPASS, **extra)


def assert_fresh(client, endpoint: str, params: dict | None = None, **extra):
    """The next GET recomputes (MISS) and answers what the database says now."""
    response = fetch(client, endpoint, params, cache=MISS, **extra)
    assert response.json() == uncached(client, endpoint, params, **extra).json()
    return response


def titles(response) -> list[str]:
    """Titles in a today or content-list answer."""
    return [item["title"] for item in response.json()["results"]]


def api_create_category(client, name: str, slug: str | None = None) -> dict:
    payload = {"name": name} if slug is None else {"name": name, "slug": slug}
    response = client.post("/api/content/categories/", payload)
    assert response.status_code == 201, response.content
    return response.json()


def api_create_content(client, title: str, **fields) -> dict:
    response = client.post("/api/content/", {"title": title, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def api_complete(client, content_id: int, result: str = "remembered") -> dict:
    response = client.post("/api/review/complete/", {"content_id": content_id, "result": result})
    assert response.status_code == 200, response.content
    return response.json()


def seed(client, prefix: str = "") -> dict:
    """A small but non-trivial account: a category with two cards, one loose card already
    reviewed (so today's list, the stats and the content list all have something to show).
    Written through the services in one committed block, as the API would, only faster."""
    owner_id = client.user.id
    with committed():
        langs = category_create(owner_id=owner_id, name=f"{prefix}Languages", slug=f"{prefix.lower()}langs")
        hola = content_create(owner_id=owner_id, title=f"{prefix}hola", body="hello", category_id=langs.id)
        bonjour = content_create(owner_id=owner_id, title=f"{prefix}bonjour", category_id=langs.id)
        pi = content_create(owner_id=owner_id, title=f"{prefix}pi", body="3.14159")
        review_complete(user_id=owner_id, content_id=pi.id, result="remembered")
    return {
        name: {"id": row.id} for name, row in [("category", langs), ("hola", hola), ("bonjour", bonjour), ("pi", pi)]
    }
