"""Idempotency-Key on the writes a client retries, in the unit run (SQLite). The races between
two requests holding one key are in tests/review/test_concurrency.py (PostgreSQL)."""

import pytest
from drf_spectacular.generators import SchemaGenerator

from content.models import Category, Content
from review.models import ReviewHistory
from tests.helpers import CATEGORIES, CONTENTS, TODAY, days, make_card, schedule_of
from tests.servers import DownRedis
from utils.idempotency.models import IdempotentRequest

COMPLETE = "/api/review/complete/"


def keyed(client, url: str, body: dict, key: str = "retry-1", **extra):
    return client.post(url, body, HTTP_IDEMPOTENCY_KEY=key, **extra)


def test_a_retried_completion_gets_the_first_answer_and_grades_the_card_once(alice):
    card = make_card(alice)
    body = {"content_id": card.id, "result": "remembered"}

    first, retry = keyed(alice, COMPLETE, body), keyed(alice, COMPLETE, body)

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content
    assert (first.get("Idempotent-Replayed"), retry["Idempotent-Replayed"]) == (None, "true")
    assert ReviewHistory.objects.filter(content=card).count() == 1
    assert (schedule_of(card).interval_step, schedule_of(card).next_review_date) == (0, TODAY + days(1))


def test_with_redis_down_a_retried_completion_is_still_applied_once(alice, swap_redis):
    card = make_card(alice)
    body = {"content_id": card.id, "result": "forgot"}
    swap_redis(cache=DownRedis(), revocation=DownRedis(), throttle=DownRedis())

    first, retry = keyed(alice, COMPLETE, body), keyed(alice, COMPLETE, body)

    assert (first.status_code, retry.status_code, retry["Idempotent-Replayed"]) == (200, 200, "true")
    assert ReviewHistory.objects.filter(content=card).count() == 1


def test_a_retried_create_gets_the_same_201_and_one_card(alice):
    body = {"title": "ser", "body": "to be"}

    first, retry = keyed(alice, CONTENTS, body), keyed(alice, CONTENTS, body)

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json() and retry.content == first.content
    assert Content.objects.filter(owner=alice.user).count() == 1


def test_without_a_key_every_request_is_its_own_write(alice):
    for name in ("Verbs", "Nouns"):
        assert alice.post(CATEGORIES, {"name": name}).status_code == 201
    assert Category.objects.filter(owner=alice.user).count() == 2


def test_the_same_key_with_another_body_is_a_422_and_changes_nothing(alice):
    assert keyed(alice, CATEGORIES, {"name": "Verbs"}).status_code == 201

    response = keyed(alice, CATEGORIES, {"name": "Nouns"})

    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]
    assert list(Category.objects.filter(owner=alice.user).values_list("name", flat=True)) == ["Verbs"]


def test_the_same_key_on_another_endpoint_is_a_422(alice):
    card = make_card(alice)
    assert keyed(alice, CATEGORIES, {"name": "Verbs"}).status_code == 201

    assert keyed(alice, COMPLETE, {"content_id": card.id, "result": "forgot"}).status_code == 422
    assert not ReviewHistory.objects.exists()


def test_the_body_is_compared_as_parsed_not_as_bytes(alice):
    first = alice.post(
        CATEGORIES, '{"name": "Verbs", "slug": "v"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )
    retry = alice.post(
        CATEGORIES, '{"slug":"v","name":"Verbs"}', content_type="application/json", HTTP_IDEMPOTENCY_KEY="k"
    )

    assert (first.status_code, retry.status_code, retry["Idempotent-Replayed"]) == (201, 201, "true")


def test_keys_of_two_users_never_collide(alice, bob):
    mine, theirs = (
        keyed(alice, CATEGORIES, {"name": "Verbs"}, "shared"),
        keyed(bob, CATEGORIES, {"name": "Nouns"}, "shared"),
    )

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert theirs.json()["name"] == "Nouns" and theirs.json()["id"] != mine.json()["id"]
    assert keyed(bob, CATEGORIES, {"name": "Nouns"}, "shared").json() == theirs.json()


def test_a_refused_request_does_not_spend_its_key(alice):
    assert keyed(alice, CATEGORIES, {"name": ""}).status_code == 400

    response = keyed(alice, CATEGORIES, {"name": "Verbs"})

    assert response.status_code == 201 and "Idempotent-Replayed" not in response
    assert not IdempotentRequest.objects.filter(status__isnull=True).exists()


def test_a_key_expires_after_24_hours_and_its_row_is_cleaned(alice, clock):
    body = {"title": "ser", "body": "to be"}
    assert keyed(alice, CONTENTS, body).status_code == 201
    clock.advance(hours=23, minutes=59)
    assert keyed(alice, CONTENTS, body)["Idempotent-Replayed"] == "true"
    clock.advance(minutes=1)

    response = keyed(alice, CONTENTS, body)

    # The key is new again: the write runs, and meets the card the first one made.
    assert response.status_code == 400 and "title" in response.json()
    assert keyed(alice, CATEGORIES, {"name": "Verbs"}, "another").status_code == 201
    assert list(IdempotentRequest.objects.values_list("key", flat=True)) == ["another"]


def test_the_key_may_be_sent_as_a_structured_field_string(alice):
    assert keyed(alice, CATEGORIES, {"name": "Verbs"}, '"abc-1"').status_code == 201
    assert keyed(alice, CATEGORIES, {"name": "Verbs"}, "abc-1")["Idempotent-Replayed"] == "true"


@pytest.mark.parametrize("key", ["", "x" * 256, "caf\u00e9", "two words"])
def test_a_malformed_key_is_a_400_naming_the_header(alice, key):
    response = keyed(alice, CATEGORIES, {"name": "Verbs"}, key)

    assert response.status_code == 400
    assert list(response.json()) == ["Idempotency-Key"]
    assert not Category.objects.exists()


def test_the_openapi_document_lists_the_header_on_the_retried_writes():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    keyed_operations = {
        (method, path)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if any(parameter["name"] == "Idempotency-Key" for parameter in operation.get("parameters", []))
    }
    assert keyed_operations == {
        ("post", "/api/review/complete/"),
        ("post", "/api/review/undo/"),
        ("post", "/api/content/"),
        ("post", "/api/content/categories/"),
        ("post", "/api/imports/"),
    }
    assert {"409", "422"} <= set(schema["paths"]["/api/review/complete/"]["post"]["responses"])
