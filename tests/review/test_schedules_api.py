"""/api/review/schedules/: the paginated list of a user's cards, and pausing/resuming one."""

import pytest
from django.conf import settings
from django.test import override_settings

from tests.helpers import TODAY, complete, days, due_content_ids, make_card, schedule_of

LIST_URL = "/api/review/schedules/"


def detail_url(schedule_or_id) -> str:
    return f"{LIST_URL}{getattr(schedule_or_id, 'id', schedule_or_id)}/"


def set_active(client, schedule, is_active):
    return client.patch(detail_url(schedule), {"is_active": is_active})


def test_the_list_shows_every_schedule_of_the_user_paused_ones_included(alice, bob):
    later = make_card(alice, "later", due=TODAY + days(5))
    paused = make_card(alice, "paused", due=TODAY - days(1), active=False)
    now = make_card(alice, "now")
    make_card(bob, "bob's")

    response = alice.get(LIST_URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (3, None, None)
    assert [item["content_id"] for item in body["results"]] == [paused.id, now.id, later.id]
    assert body["results"][0]["is_active"] is False


def test_a_list_item_describes_the_schedule(alice):
    card = make_card(alice, "der Hund", step=2, initial=True, due=TODAY + days(3))

    (item,) = alice.get(LIST_URL).json()["results"]

    assert {key: value for key, value in item.items() if key != "updated_at"} == {
        "id": schedule_of(card).id,
        "content_id": card.id,
        "title": "der Hund",
        "interval_step": 2,
        "next_review_date": (TODAY + days(3)).isoformat(),
        "is_active": True,
        "initial_review_completed": True,
        "reviews": 0,
        "lapses": 0,
        "leech": False,
    }
    assert "updated_at" in item


def test_the_list_is_paginated_in_due_order(alice):
    cards = [make_card(alice, f"card {i}", due=TODAY + days(5 - i)) for i in range(5)]
    in_due_order = [card.id for card in reversed(cards)]

    first = alice.get(LIST_URL, {"page_size": 2}).json()
    last = alice.get(LIST_URL, {"page_size": 2, "page": 3}).json()

    assert (first["count"], first["total_pages"], first["page"], first["page_size"]) == (5, 3, 1, 2)
    assert (last["page"], last["total_pages"]) == (3, 3)
    assert [item["content_id"] for item in first["results"]] == in_due_order[:2]
    assert first["previous"] is None and "page=2" in first["next"]
    assert [item["content_id"] for item in last["results"]] == in_due_order[4:]
    assert last["next"] is None


def test_page_size_is_capped_at_the_configured_maximum(alice):
    for i in range(3):
        make_card(alice, f"card {i}")

    with override_settings(RESEE={**settings.RESEE, "MAX_PAGE_SIZE": 2}):
        body = alice.get(LIST_URL, {"page_size": 50}).json()

    assert len(body["results"]) == 2
    assert body["count"] == 3


@pytest.mark.parametrize(
    "params",
    [
        {"page": "0"},
        {"page": "-1"},
        {"page": "abc"},
        {"page": "1.5"},
        {"page_size": "0"},
        {"page_size": "-5"},
        {"page_size": "ten"},
        {"page_size": "9999999999"},
        # Digits str.isdigit() accepts but int() does not, and a number too long for int():
        # both must be a 400 like any other malformed value, not a server error.
        {"page": "\u00b2"},
        {"page_size": "\u00b3"},
        {"page": "1" * 5000},
    ],
    ids=lambda params: next(f"{key}={value[:12]}" for key, value in params.items()),
)
def test_malformed_paging_is_rejected(alice, params):
    make_card(alice)

    response = alice.get(LIST_URL, params)

    assert response.status_code == 400
    assert set(response.json()) == set(params)


def test_a_page_past_the_end_is_not_found(alice):
    make_card(alice)

    assert alice.get(LIST_URL, {"page": 2}).status_code == 404


def test_one_schedule_can_be_read(alice):
    card = make_card(alice, "der Hund")

    response = alice.get(detail_url(schedule_of(card)))

    assert response.status_code == 200
    assert (response.json()["content_id"], response.json()["title"]) == (card.id, "der Hund")


def test_another_users_schedule_cannot_be_read_or_changed(alice, bob):
    bobs = schedule_of(make_card(bob))

    assert alice.get(detail_url(bobs)).status_code == 404
    assert set_active(alice, bobs, False).status_code == 404
    assert schedule_of(bobs.content).is_active is True


def test_a_schedule_that_does_not_exist_is_not_found(alice):
    missing = schedule_of(make_card(alice)).id + 1000

    assert alice.get(detail_url(missing)).status_code == 404
    assert set_active(alice, missing, False).status_code == 404


def test_pausing_a_card_takes_it_off_todays_list_and_resuming_brings_it_back(alice):
    card = make_card(alice, step=3, initial=True, due=TODAY - days(4))
    schedule = schedule_of(card)

    paused = set_active(alice, schedule, False)
    assert paused.status_code == 200
    assert paused.json()["is_active"] is False
    assert due_content_ids(alice) == []
    assert complete(alice, card).status_code == 400

    resumed = set_active(alice, schedule, True)
    assert resumed.status_code == 200
    assert resumed.json()["is_active"] is True
    assert due_content_ids(alice) == [card.id]


def test_pausing_keeps_the_cards_step_and_date(alice):
    card = make_card(alice, step=3, initial=True, due=TODAY + days(2))

    body = set_active(alice, schedule_of(card), False).json()

    assert (body["interval_step"], body["next_review_date"]) == (3, (TODAY + days(2)).isoformat())


def test_a_pause_request_cannot_move_the_card_on_the_ladder(alice):
    card = make_card(alice, step=2, initial=True, due=TODAY + days(7))

    response = alice.patch(
        detail_url(schedule_of(card)),
        {"is_active": False, "interval_step": 7, "next_review_date": "2020-01-01", "initial_review_completed": False},
    )

    assert response.status_code == 400
    assert set(response.json()) == {"interval_step", "next_review_date", "initial_review_completed"}
    assert schedule_of(card).is_active
    schedule = schedule_of(card)
    assert (schedule.interval_step, schedule.next_review_date, schedule.initial_review_completed) == (
        2,
        TODAY + days(7),
        True,
    )


@pytest.mark.parametrize(
    "body", [{}, {"is_active": "maybe"}, {"is_active": None}, {"is_active": [True]}, {"active": False}]
)
def test_a_malformed_pause_request_is_rejected_and_changes_nothing(alice, body):
    schedule = schedule_of(make_card(alice))

    response = alice.patch(detail_url(schedule), body)

    assert response.status_code == 400
    assert "is_active" in response.json()
    assert schedule_of(schedule.content).is_active is True
