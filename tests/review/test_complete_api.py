"""POST /api/review/complete/: one history row per completion and a step on the interval ladder."""

from datetime import date

import pytest
from django.test import override_settings

from review.models import ReviewHistory
from tests.helpers import (
    LADDER,
    NOW,
    TODAY,
    TOP_STEP,
    complete,
    days,
    due_content_ids,
    history_of,
    make_card,
    schedule_of,
    utc,
)

RESULTS = ["remembered", "partial", "forgot"]


def test_completing_a_card_answers_with_its_new_schedule(alice):
    card = make_card(alice, "der Hund")

    response = complete(alice, card, "remembered", time_spent_seconds=12)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "content_id",
        "title",
        "interval_step",
        "next_review_date",
        "is_active",
        "initial_review_completed",
        "reviews",
        "lapses",
        "leech",
        "updated_at",
    }
    assert {key: value for key, value in body.items() if key != "updated_at"} == {
        "id": schedule_of(card).id,
        "content_id": card.id,
        "title": "der Hund",
        "interval_step": 0,
        "next_review_date": (TODAY + days(1)).isoformat(),
        "is_active": True,
        "initial_review_completed": True,
        "reviews": 1,
        "lapses": 0,
        "leech": False,
    }


def test_the_new_schedule_is_saved_not_only_returned(alice):
    card = make_card(alice, step=3, initial=True)

    complete(alice, card, "remembered")

    schedule = schedule_of(card)
    assert (schedule.interval_step, schedule.next_review_date, schedule.initial_review_completed) == (
        4,
        TODAY + days(LADDER[4]),
        True,
    )


def test_each_completion_writes_exactly_one_history_row(alice):
    card = make_card(alice)

    complete(alice, card, "partial", time_spent_seconds=42)

    (row,) = history_of(alice)
    assert (row.user_id, row.content_id, row.result, row.time_spent_seconds, row.reviewed_at) == (
        alice.user.id,
        card.id,
        "partial",
        42,
        NOW,
    )


def test_every_completion_of_the_same_card_is_recorded(alice, clock):
    card = make_card(alice)

    for result in ["forgot", "partial", "remembered"]:
        assert complete(alice, card, result).status_code == 200
        clock.advance(hours=1)

    rows = history_of(alice)
    assert [row.result for row in rows] == ["forgot", "partial", "remembered"]
    assert [row.reviewed_at for row in rows] == [NOW, NOW.replace(hour=13), NOW.replace(hour=14)]


def test_time_spent_is_optional_and_stored_as_unknown(alice):
    card = make_card(alice)

    assert complete(alice, card, "remembered").status_code == 200

    assert history_of(alice)[0].time_spent_seconds is None


@pytest.mark.parametrize("seconds", [0, 86400])
def test_time_spent_accepts_both_ends_of_its_range(alice, seconds):
    card = make_card(alice)

    assert complete(alice, card, time_spent_seconds=seconds).status_code == 200

    assert history_of(alice)[0].time_spent_seconds == seconds


@pytest.mark.parametrize("result", RESULTS)
def test_the_first_review_lands_on_the_first_step_whatever_the_result(alice, result):
    card = make_card(alice)

    body = complete(alice, card, result).json()

    assert body["interval_step"] == 0
    assert body["next_review_date"] == (TODAY + days(1)).isoformat()
    assert body["initial_review_completed"] is True


@pytest.mark.parametrize(
    "step, result, expected_step",
    [
        (0, "remembered", 1),
        (3, "remembered", 4),
        (TOP_STEP - 1, "remembered", TOP_STEP),
        (TOP_STEP, "remembered", TOP_STEP),
        (0, "partial", 0),
        (4, "partial", 4),
        (TOP_STEP, "partial", TOP_STEP),
        (0, "forgot", 0),
        (5, "forgot", 0),
        (TOP_STEP, "forgot", 0),
    ],
)
def test_after_the_first_review_the_result_moves_the_card_on_the_ladder(alice, step, result, expected_step):
    card = make_card(alice, step=step, initial=True)

    body = complete(alice, card, result).json()

    assert body["interval_step"] == expected_step
    assert body["next_review_date"] == (TODAY + days(LADDER[expected_step])).isoformat()


def test_forgetting_a_card_sends_it_back_to_the_first_step(alice):
    card = make_card(alice, step=6, initial=True)

    body = complete(alice, card, "forgot").json()

    assert (body["interval_step"], body["next_review_date"]) == (0, (TODAY + days(1)).isoformat())


def test_remembering_every_time_climbs_the_whole_ladder_and_stays_on_top(alice, clock):
    card = make_card(alice)
    seen = []

    for _ in range(len(LADDER) + 2):
        body = complete(alice, card, "remembered").json()
        seen.append(body["interval_step"])
        assert date.fromisoformat(body["next_review_date"]) == clock.today() + days(LADDER[body["interval_step"]])
        clock.now = utc(*date.fromisoformat(body["next_review_date"]).timetuple()[:3], 9, 0)

    assert seen == [0, 1, 2, 3, 4, 5, 6, 7, 7, 7]
    assert len(history_of(alice)) == len(LADDER) + 2


def test_the_next_date_counts_from_the_day_of_review_not_from_the_missed_due_date(alice):
    card = make_card(alice, step=2, initial=True, due=TODAY - days(10))

    body = complete(alice, card, "remembered").json()

    assert body["next_review_date"] == (TODAY + days(LADDER[3])).isoformat()


def test_a_card_can_be_reviewed_before_it_is_due(alice):
    card = make_card(alice, step=1, initial=True, due=TODAY + days(2))

    body = complete(alice, card, "remembered").json()

    assert body["next_review_date"] == (TODAY + days(LADDER[2])).isoformat()


def test_a_completed_card_leaves_todays_list_until_its_next_date(alice, clock):
    card = make_card(alice)
    complete(alice, card, "remembered")

    assert due_content_ids(alice) == []
    clock.advance(days=1)
    assert due_content_ids(alice) == [card.id]


def test_completion_uses_the_local_date_of_the_configured_time_zone(alice, clock):
    # 02:00 UTC on 15 May: still 14 May in New York, so the card is next due on 15 May.
    clock.now = utc(2024, 5, 15, 2, 0)
    with override_settings(TIME_ZONE="America/New_York"):
        card = make_card(alice)
        assert schedule_of(card).next_review_date == date(2024, 5, 14)

        body = complete(alice, card, "forgot").json()

    assert body["next_review_date"] == "2024-05-15"
    assert history_of(alice)[0].reviewed_at == utc(2024, 5, 15, 2, 0)


def test_another_users_card_is_not_found_and_leaves_no_trace(alice, bob):
    bobs = make_card(bob, step=2, initial=True, due=TODAY)
    before = schedule_of(bobs)

    response = complete(alice, bobs, "remembered")

    assert response.status_code == 404
    assert ReviewHistory.objects.count() == 0
    after = schedule_of(bobs)
    assert (after.interval_step, after.next_review_date) == (before.interval_step, before.next_review_date)


def test_a_card_that_does_not_exist_is_not_found(alice):
    card = make_card(alice)

    response = complete(alice, card.id + 1000)

    assert response.status_code == 404
    assert ReviewHistory.objects.count() == 0


def test_a_paused_card_cannot_be_reviewed(alice):
    card = make_card(alice, step=3, initial=True, active=False)

    response = complete(alice, card, "remembered")

    assert response.status_code == 400
    assert "content_id" in response.json()
    assert history_of(alice) == []
    assert schedule_of(card).interval_step == 3


@pytest.mark.parametrize("content_id", [2**31, 2**63 - 1, 2**63, 10**30])
def test_an_id_beyond_any_stored_id_is_refused_without_a_server_error(alice, content_id):
    make_card(alice)

    response = complete(alice, content_id)

    assert response.status_code in (400, 404)
    assert ReviewHistory.objects.count() == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"result": "perfect"}, "result"),
        ({"result": ""}, "result"),
        ({"result": None}, "result"),
        ({"result": "REMEMBERED"}, "result"),
        ({"result": "remembered", "time_spent_seconds": -1}, "time_spent_seconds"),
        ({"result": "remembered", "time_spent_seconds": 86401}, "time_spent_seconds"),
        ({"result": "remembered", "time_spent_seconds": "long"}, "time_spent_seconds"),
        ({"result": "remembered", "time_spent_seconds": 1.5}, "time_spent_seconds"),
        ({"result": "remembered", "content_id": None}, "content_id"),
        ({"result": "remembered", "content_id": "abc"}, "content_id"),
        ({"result": "remembered", "content_id": 0}, "content_id"),
        ({"result": "remembered", "content_id": -3}, "content_id"),
        ({"result": "remembered", "content_id": [1]}, "content_id"),
    ],
)
def test_a_malformed_completion_is_rejected_and_changes_nothing(alice, body, field):
    card = make_card(alice)

    response = alice.post("/api/review/complete/", {"content_id": card.id, **body})

    assert response.status_code == 400
    assert field in response.json()
    assert history_of(alice) == []
    assert schedule_of(card).initial_review_completed is False


@pytest.mark.parametrize("missing", ["content_id", "result"])
def test_a_completion_without_a_required_field_is_rejected(alice, missing):
    card = make_card(alice)
    body = {"content_id": card.id, "result": "remembered"}
    del body[missing]

    response = alice.post("/api/review/complete/", body)

    assert response.status_code == 400
    assert missing in response.json()
    assert history_of(alice) == []
