"""HTTP headers of the cached endpoints: X-Cache, ETag, Cache-Control, Vary, and conditional
GETs (If-None-Match -> 304 Not Modified with no body)."""

import re
from types import SimpleNamespace

import pytest
from django.utils.cache import cc_delim_re

from tests.helpers import (
    BYPASS,
    ENDPOINTS,
    HIT,
    MISS,
    URLS,
    cache_off,
    create_category,
    create_content,
    fetch,
    seed,
    uncached,
    warm,
)
from utils.cache_utils import TODAY, store
from utils.cache_utils.read_path import answer
from utils.cache_utils.reads import CachedRead, Derivation

STRONG_ETAG = re.compile(r'\A"[0-9a-f]{24}"\Z')


def conditional(client, endpoint: str, etag_header: str, params: dict | None = None):
    return client.get(URLS[endpoint], params or {}, HTTP_IF_NONE_MATCH=etag_header)


def assert_not_modified(response, etag: str) -> None:
    assert response.status_code == 304, (response.status_code, response.content[:200])
    assert response.content == b""
    assert response["ETag"] == etag


def assert_private_headers(response) -> None:
    assert response["Cache-Control"] == "private, no-cache"
    assert "authorization" in {value.strip().lower() for value in cc_delim_re.split(response["Vary"])}
    assert STRONG_ETAG.match(response["ETag"]), response["ETag"]


# --- Headers on every answer ---------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_miss_hit_and_bypass_all_carry_etag_cache_control_and_vary(alice, endpoint):
    seed(alice)

    miss = fetch(alice, endpoint, cache=MISS)
    hit = fetch(alice, endpoint, cache=HIT)
    bypass = uncached(alice, endpoint)

    for response in (miss, hit, bypass):
        assert_private_headers(response)
        assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_the_etag_depends_on_the_body_only_so_hit_miss_and_bypass_agree(alice, endpoint):
    seed(alice)

    miss = fetch(alice, endpoint, cache=MISS)
    hit = fetch(alice, endpoint, cache=HIT)
    bypass = uncached(alice, endpoint)

    assert miss["ETag"] == hit["ETag"] == bypass["ETag"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_different_bodies_have_different_etags(alice, bob, endpoint):
    seed(alice)
    create_content(bob, "bob's card")

    assert warm(alice, endpoint)["ETag"] != warm(bob, endpoint)["ETag"]


@pytest.mark.parametrize(
    "endpoint, params",
    [
        ("content", {"ordering": "sideways"}),
        ("content", {"page_size": "abc"}),
        ("content", {"page": "99"}),
        ("today", {"category_slug": "not a slug"}),
    ],
)
def test_an_error_answer_is_never_cached_and_carries_no_cache_headers(alice, endpoint, params):
    seed(alice)
    for _ in range(2):
        response = alice.get(URLS[endpoint], params)
        assert response.status_code in (400, 404), response.content
        assert "X-Cache" not in response
        assert "ETag" not in response


# --- Conditional GET -----------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_if_none_match_with_the_etag_of_a_hit_gives_304_with_an_empty_body(alice, endpoint):
    seed(alice)
    etag = warm(alice, endpoint)["ETag"]

    response = conditional(alice, endpoint, etag)

    assert_not_modified(response, etag)
    assert response["X-Cache"] == HIT
    assert_private_headers(response)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_weak_if_none_match_matches_the_strong_etag(alice, endpoint):
    seed(alice)
    etag = warm(alice, endpoint)["ETag"]

    assert_not_modified(conditional(alice, endpoint, f"W/{etag}"), etag)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_if_none_match_star_matches_any_current_answer(alice, endpoint):
    seed(alice)
    etag = warm(alice, endpoint)["ETag"]

    assert_not_modified(conditional(alice, endpoint, "*"), etag)


def test_an_etag_anywhere_in_a_list_matches(alice):
    seed(alice)
    etag = warm(alice, "today")["ETag"]

    assert_not_modified(conditional(alice, "today", f'"0000", W/"1111", {etag}'), etag)


@pytest.mark.parametrize("header", ['"0123456789abcdef01234567"', 'W/"nope"', "garbage", '""'])
def test_an_if_none_match_that_does_not_match_gives_the_full_answer(alice, header):
    seed(alice)
    hit = warm(alice, "stats")

    response = conditional(alice, "stats", header)

    assert response.status_code == 200
    assert response.content == hit.content
    assert response["ETag"] == hit["ETag"]


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_after_a_write_the_old_etag_gets_200_with_a_new_etag(alice, endpoint):
    seed(alice)
    old = warm(alice, endpoint)

    create_content(alice, "a new card")

    response = conditional(alice, endpoint, old["ETag"])
    assert response.status_code == 200
    assert response["X-Cache"] == MISS
    assert response["ETag"] != old["ETag"]
    assert response.content != old.content
    assert response.json() == uncached(alice, endpoint).json()
    assert_not_modified(conditional(alice, endpoint, response["ETag"]), response["ETag"])


def test_a_miss_that_recomputes_the_same_body_still_answers_304(alice):
    """Renaming a category no card is in bumps the content namespace without changing the content
    list: the recomputed body hashes to the same ETag, so the client's copy is still good."""
    seed(alice)
    unused = create_category(alice, "Unused")
    etag = warm(alice, "content")["ETag"]

    assert alice.patch(f"/api/content/categories/{unused['id']}/", {"name": "Still unused"}).status_code == 200

    response = conditional(alice, "content", etag)
    assert_not_modified(response, etag)
    assert response["X-Cache"] == MISS


def test_conditional_gets_work_with_the_cache_off(alice):
    seed(alice)
    etag = warm(alice, "today")["ETag"]

    with cache_off():
        response = conditional(alice, "today", etag)

    assert_not_modified(response, etag)
    assert response["X-Cache"] == BYPASS


def test_an_etag_is_only_good_for_the_parameters_it_came_from(alice):
    seed(alice)
    etag = warm(alice, "content")["ETag"]

    response = conditional(alice, "content", etag, {"search": "hola"})

    assert response.status_code == 200
    assert [item["title"] for item in response.json()["results"]] == ["hola"]


def test_a_304_is_not_served_to_a_request_without_a_valid_token(alice, anon):
    seed(alice)
    etag = warm(alice, "today")["ETag"]

    assert conditional(anon, "today", etag).status_code == 401


# --- Answers taken out of a shared entry -----------------------------------------------------------


def test_an_answer_taken_out_of_a_shared_entry_is_cut_once_per_body_and_again_when_the_body_changes(alice):
    user, rows, cuts = alice.user.pk, {"rows": [1, 2, 3]}, []

    def first(n: int) -> CachedRead:
        def project(shared: dict) -> dict:
            cuts.append(n)
            return {"first": shared["rows"][:n]} if n <= len(shared["rows"]) else None  # None: "not out of this one"

        shared = CachedRead(user, TODAY, {"shared": True}, lambda: dict(rows))
        return CachedRead(user, TODAY, {"first": n}, lambda: {"first": rows["rows"][:n]}, Derivation(shared, project))

    request = SimpleNamespace(META={})
    answers = [answer(request, first(2)) for _ in range(3)]
    assert [answer["X-Cache"] for answer in answers] == [MISS, HIT, HIT]
    assert {answer.content for answer in answers} == {b'{"first":[1,2]}'} and cuts == [2]
    assert answer(request, first(1)).content == b'{"first":[1]}' and cuts == [2, 1]

    assert [answer(request, first(9)).content for _ in range(2)] == [b'{"first":[1,2,3]}'] * 2  # its own entry
    assert cuts == [2, 1, 9]  # the shared body could not give it: found out once

    rows["rows"] = [4, 5, 6]
    store.bump(user_id=user, namespaces=[TODAY])
    assert answer(request, first(2)).content == b'{"first":[4,5]}' and cuts == [2, 1, 9, 2]
