"""/api/content/ and /api/content/{id}/: create, read, update and delete one card, scoped to its owner."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.selectors import learner_day
from content.models import Category, Content
from review.models import ReviewSchedule
from tests.helpers import (
    CATEGORIES,
    CONTENTS,
    assert_rejected,
    category_url,
    content_url,
    create_category,
    create_content,
)


def stored(card: dict) -> Content:
    return Content.objects.get(pk=card["id"])


def due_today_ids(client) -> list[int]:
    response = client.get("/api/review/today/")
    assert response.status_code == 200, response.content
    return [item["content_id"] for item in response.json()["results"]]


# --- Authentication and request format ---------------------------------------------------------

ENDPOINTS = [
    ("get", "categories"),
    ("post", "categories"),
    ("get", "category"),
    ("put", "category"),
    ("patch", "category"),
    ("delete", "category"),
    ("get", "contents"),
    ("post", "contents"),
    ("get", "content"),
    ("put", "content"),
    ("patch", "content"),
    ("delete", "content"),
]


@pytest.fixture
def urls(alice):
    """One real URL per endpoint kind, pointing at alice's objects."""
    category = create_category(alice, "Verbs")
    card = create_content(alice, "ser", body="to be", category_id=category["id"])
    return {
        "categories": CATEGORIES,
        "category": category_url(category["id"]),
        "contents": CONTENTS,
        "content": content_url(card["id"]),
    }


@pytest.mark.parametrize("method, kind", ENDPOINTS)
def test_every_content_endpoint_is_401_json_without_a_token(anon, urls, method, kind):
    response = getattr(anon, method)(urls[kind], {"name": "x", "title": "x"})
    assert response.status_code == 401
    assert "detail" in response.json()
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_malformed_token_is_401_too(anon, urls):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")
    assert anon.get(urls["contents"]).status_code == 401
    assert anon.post(urls["contents"], {"title": "x"}).status_code == 401
    assert Content.objects.count() == 1


WRITES = [(m, k) for m, k in ENDPOINTS if m in ("post", "put", "patch")]


@pytest.mark.parametrize("method, kind", WRITES)
def test_a_body_that_is_not_valid_json_is_a_400(alice, urls, method, kind):
    response = getattr(alice, method)(urls[kind], '{"title": "x",', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()


@pytest.mark.parametrize("method, kind", WRITES)
def test_a_form_encoded_body_is_415_and_changes_nothing(alice, urls, method, kind):
    before = (list(Category.objects.values()), list(Content.objects.values()))
    response = getattr(alice, method)(
        urls[kind], "name=Hijacked&title=Hijacked", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert "detail" in response.json()
    assert (list(Category.objects.values()), list(Content.objects.values())) == before


# --- Create --------------------------------------------------------------------------------------


def test_creating_content_returns_201_with_the_card(alice):
    response = alice.post(CONTENTS, {"title": "ser", "body": "to be"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "title", "body", "category", "created_at", "updated_at"}
    assert (body["title"], body["body"], body["category"]) == ("ser", "to be", None)
    card = stored(body)
    assert (card.owner_id, card.title, card.body) == (alice.user.id, "ser", "to be")
    assert body["created_at"] and body["updated_at"]


def test_creating_a_card_i_already_have_is_a_400_that_says_so(alice):
    create_content(alice, "ser", body="to be")
    response = alice.post(CONTENTS, {"title": "ser", "body": "to be"})
    assert response.status_code == 400
    assert response.json() == {"title": ["You already have a card with this title and body."]}
    assert Content.objects.filter(owner=alice.user).count() == 1


def test_body_is_optional_and_defaults_to_empty(alice):
    assert create_content(alice, "only a title")["body"] == ""


def test_body_whitespace_is_kept_as_sent(alice):
    body = "  indented\n\n  lines  \n"
    assert create_content(alice, "ws", body=body)["body"] == body
    assert Content.objects.get(title="ws").body == body


def test_a_body_of_exactly_20000_characters_is_accepted(alice):
    assert len(create_content(alice, "long", body="b" * 20_000)["body"]) == 20_000


def test_a_title_of_exactly_200_characters_is_accepted(alice):
    assert create_content(alice, "t" * 200)["title"] == "t" * 200


def test_creating_content_in_my_category_nests_the_category(alice):
    category = create_category(alice, "Español Verbs")
    card = create_content(alice, "ser", category_id=category["id"])
    assert card["category"] == {"id": category["id"], "name": "Español Verbs", "slug": "español-verbs"}
    assert stored(card).category_id == category["id"]


def test_category_id_null_creates_content_without_a_category(alice):
    assert create_content(alice, "free", category_id=None)["category"] is None


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "title"),
        ({"body": "no title"}, "title"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": None}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"title": "nul\x00"}, "title"),
        ({"title": "ok", "body": "b" * 20_001}, "body"),
        ({"title": "ok", "body": None}, "body"),
        ({"title": "ok", "body": "nul\x00"}, "body"),
        ({"title": "ok", "category_id": "abc"}, "category_id"),
        ({"title": "ok", "category_id": 0}, "category_id"),
        ({"title": "ok", "category_id": -1}, "category_id"),
        ({"title": "ok", "category_id": 999_999}, "category_id"),
        ({"title": "ok", "category_id": 10**20}, "category_id"),
        ({"title": "ok", "category_id": 2**63}, "category_id"),
    ],
)
def test_invalid_content_input_is_rejected_on_its_field(alice, payload, field):
    assert_rejected(alice.post(CONTENTS, payload), field)
    assert not Content.objects.exists()
    assert not ReviewSchedule.objects.exists()


def test_another_users_category_cannot_be_used(alice, bob):
    theirs = create_category(bob, "Bob's")
    assert_rejected(alice.post(CONTENTS, {"title": "x", "category_id": theirs["id"]}), "category_id")
    assert not Content.objects.exists()
    assert not ReviewSchedule.objects.exists()


def test_creating_content_schedules_its_first_review_for_today(alice):
    card = create_content(alice, "ser")
    schedule = ReviewSchedule.objects.get(content_id=card["id"])
    assert schedule.owner_id == alice.user.id
    assert schedule.next_review_date == learner_day(user_id=alice.user.pk).today  # the learner's day
    assert schedule.interval_step == 0
    assert schedule.is_active is True
    assert schedule.initial_review_completed is False


def test_new_content_is_due_in_todays_reviews(alice, bob):
    mine = create_content(alice, "ser")
    theirs = create_content(bob, "estar")
    assert due_today_ids(alice) == [mine["id"]]
    assert due_today_ids(bob) == [theirs["id"]]


# --- Read ----------------------------------------------------------------------------------------


def test_getting_my_content_returns_the_same_card_as_create(alice):
    category = create_category(alice, "Verbs")
    card = create_content(alice, "ser", body="to be", category_id=category["id"])
    response = alice.get(content_url(card["id"]))
    assert response.status_code == 200
    assert response.json() == card


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_missing_content_is_a_json_404(alice, method):
    response = getattr(alice, method)(content_url(999_999), {"title": "x"})
    assert response.status_code == 404
    assert "detail" in response.json()


@pytest.mark.parametrize("url", [content_url(10**20), category_url(10**20), content_url(2**63)])
def test_an_id_too_large_for_the_database_is_a_json_404_not_a_500(alice, url):
    response = alice.get(url)
    assert response.status_code == 404
    assert "detail" in response.json()


# --- Another user's content ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method, payload",
    [
        ("get", None),
        ("put", {"title": "Hijacked", "body": "Hijacked", "category_id": None}),
        ("patch", {"title": "Hijacked"}),
        ("patch", {"category_id": None}),
        ("delete", None),
    ],
)
def test_another_users_content_is_not_found_and_stays_unchanged(alice, bob, method, payload):
    category = create_category(bob, "Bob's")
    card = create_content(bob, "estar", body="to be", category_id=category["id"])
    before = stored(card)
    response = getattr(alice, method)(content_url(card["id"]), payload)
    assert response.status_code == 404
    assert "detail" in response.json()
    after = stored(card)
    assert (after.owner_id, after.title, after.body, after.category_id, after.updated_at) == (
        before.owner_id,
        before.title,
        before.body,
        before.category_id,
        before.updated_at,
    )
    assert ReviewSchedule.objects.filter(content_id=card["id"]).exists()


# --- Update --------------------------------------------------------------------------------------


@pytest.fixture
def card(alice):
    category = create_category(alice, "Verbs")
    card = create_content(alice, "ser", body="to be", category_id=category["id"])
    # Age the card so that an update visibly moves updated_at forward.
    Content.objects.filter(pk=card["id"]).update(updated_at=timezone.now() - timedelta(days=1))
    return {**card, "category_id": category["id"], "old_updated_at": stored(card).updated_at}


def test_patch_changes_only_the_fields_sent(alice, card):
    created_at = stored(card).created_at
    response = alice.patch(content_url(card["id"]), {"title": "estar"})
    assert response.status_code == 200
    body = response.json()
    assert (body["title"], body["body"], body["category"]["id"]) == ("estar", "to be", card["category_id"])
    after = stored(card)
    assert (after.title, after.body, after.category_id) == ("estar", "to be", card["category_id"])
    assert after.updated_at > card["old_updated_at"]
    assert after.created_at == created_at


def test_patch_can_clear_the_body(alice, card):
    assert alice.patch(content_url(card["id"]), {"body": ""}).json()["body"] == ""
    assert stored(card).body == ""


def test_patch_category_id_null_removes_the_category(alice, card):
    response = alice.patch(content_url(card["id"]), {"category_id": None})
    assert response.status_code == 200
    assert response.json()["category"] is None
    assert stored(card).category_id is None
    assert Category.objects.filter(pk=card["category_id"]).exists()


def test_patch_can_move_content_to_another_of_my_categories(alice, card):
    other = create_category(alice, "Nouns")
    response = alice.patch(content_url(card["id"]), {"category_id": other["id"]})
    assert response.json()["category"] == other
    assert stored(card).category_id == other["id"]


def test_patch_into_another_users_category_is_a_400_and_changes_nothing(alice, bob, card):
    theirs = create_category(bob, "Bob's")
    assert_rejected(
        alice.patch(content_url(card["id"]), {"category_id": theirs["id"], "title": "moved"}), "category_id"
    )
    after = stored(card)
    assert (after.title, after.category_id) == ("ser", card["category_id"])


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"title": ""}, "title"),
        ({"title": None}, "title"),
        ({"title": "t" * 201}, "title"),
        ({"body": "b" * 20_001}, "body"),
        ({"category_id": 999_999}, "category_id"),
        ({"category_id": "abc"}, "category_id"),
    ],
)
def test_invalid_patch_is_rejected_and_changes_nothing(alice, card, payload, field):
    assert_rejected(alice.patch(content_url(card["id"]), payload), field)
    after = stored(card)
    assert (after.title, after.body, after.category_id) == ("ser", "to be", card["category_id"])
    assert after.updated_at == card["old_updated_at"]


def test_put_requires_a_title(alice, card):
    assert_rejected(alice.put(content_url(card["id"]), {"body": "new body"}), "title")
    assert stored(card).body == "to be"


def test_put_replaces_the_sent_fields(alice, card):
    other = create_category(alice, "Nouns")
    response = alice.put(
        content_url(card["id"]), {"title": "estar", "body": "to be (state)", "category_id": other["id"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["title"], body["body"], body["category"]) == (card["id"], "estar", "to be (state)", other)
    after = stored(card)
    assert (after.title, after.body, after.category_id) == ("estar", "to be (state)", other["id"])


def test_updating_content_keeps_its_review_schedule(alice, card):
    schedule_before = ReviewSchedule.objects.get(content_id=card["id"])
    alice.patch(content_url(card["id"]), {"title": "estar"})
    schedule_after = ReviewSchedule.objects.get(content_id=card["id"])
    assert schedule_after.pk == schedule_before.pk
    assert schedule_after.next_review_date == schedule_before.next_review_date


# --- Delete --------------------------------------------------------------------------------------


def test_deleting_content_is_204_and_removes_it_and_its_schedule(alice, card):
    response = alice.delete(content_url(card["id"]))
    assert response.status_code == 204
    assert response.content == b""
    assert alice.get(content_url(card["id"])).status_code == 404
    assert not Content.objects.filter(pk=card["id"]).exists()
    assert not ReviewSchedule.objects.filter(content_id=card["id"]).exists()
    assert due_today_ids(alice) == []


def test_deleting_content_keeps_its_category(alice, card):
    alice.delete(content_url(card["id"]))
    assert alice.get(category_url(card["category_id"])).status_code == 200


def test_deleting_twice_is_a_404_the_second_time(alice, card):
    assert alice.delete(content_url(card["id"])).status_code == 204
    assert alice.delete(content_url(card["id"])).status_code == 404


def test_a_card_sent_with_fields_of_another_api_is_refused_and_not_stored(alice):
    """What a client written for another wire format sends: it must not be told "created" for a
    card stored without its text and category."""
    category = create_category(alice, "Verbs")

    response = alice.post(CONTENTS, {"title": "ser", "content": "to be", "category": category["id"]})

    assert response.status_code == 400
    assert response.json() == {"content": ["Unknown field."], "category": ["Unknown field."]}
    assert not Content.objects.filter(owner=alice.user).exists()


def test_a_read_only_field_of_the_card_sent_back_is_refused(alice):
    card = create_content(alice, "ser", body="to be")

    response = alice.put(content_url(card["id"]), {**card, "body": "to be (essence)"})

    assert response.status_code == 400
    assert set(response.json()) == {"id", "category", "created_at", "updated_at"}
    assert Content.objects.get(pk=card["id"]).body == "to be"
