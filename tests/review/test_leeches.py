"""Leeches: a card answered `again` once learned LEECH_LAPSES times (8 by default) is flagged on
its schedule and listed at /api/review/leeches/, its owner's only."""

import pytest
from django.conf import settings
from django.test import override_settings

from tests.helpers import api_complete, make_card, schedule_of

LEECHES = "/api/review/leeches/"


def lapse(client, card, times: int) -> dict:
    """The card learned (a first answer), then answered `again` `times` times: that many lapses."""
    schedule = api_complete(client, card.id, "good")
    for _ in range(times):
        schedule = api_complete(client, card.id, "again")
    return schedule


def listed(client, **params) -> list[tuple[str, int]]:
    response = client.get(LEECHES, params)
    assert response.status_code == 200, response.content
    return [(item["title"], item["lapses"]) for item in response.json()["results"]]


def test_a_learned_card_forgotten_eight_times_becomes_a_leech(alice):
    card = make_card(alice, "der Hund")
    seventh = lapse(alice, card, 7)

    eighth = api_complete(alice, card.id, "again")

    assert (seventh["lapses"], seventh["leech"]) == (7, False)
    assert (eighth["reviews"], eighth["lapses"], eighth["leech"]) == (9, 8, True)
    assert alice.get(f"/api/review/schedules/{schedule_of(card).id}/").json()["leech"] is True
    assert listed(alice) == [("der Hund", 8)]


def test_the_first_review_of_a_new_card_is_not_a_lapse(alice):
    card = make_card(alice)
    for _ in range(8):
        schedule = api_complete(alice, card.id, "again")

    assert (schedule["reviews"], schedule["lapses"], schedule["leech"]) == (8, 7, False)
    assert listed(alice) == []


def test_hard_answers_are_not_lapses(alice):
    schedule = lapse(alice, make_card(alice), 0)
    for _ in range(8):
        schedule = api_complete(alice, schedule["content_id"], "hard")

    assert (schedule["lapses"], schedule["leech"]) == (0, False)


def test_leeches_are_listed_most_lapses_first_paused_ones_included(alice):
    lapse(alice, make_card(alice, "eight"), 8)
    lapse(alice, make_card(alice, "ten"), 10)
    lapse(alice, make_card(alice, "seven"), 7)
    paused = make_card(alice, "nine, paused")
    lapse(alice, paused, 9)
    alice.patch(f"/api/review/schedules/{schedule_of(paused).id}/", {"is_active": False})

    assert listed(alice) == [("ten", 10), ("nine, paused", 9), ("eight", 8)]


def test_the_list_is_paged_like_the_others(alice):
    for title in ("one", "two", "three"):
        lapse(alice, make_card(alice, title), 8)

    body = alice.get(LEECHES, {"page_size": 2, "page": 2}).json()

    assert (body["count"], body["total_pages"], body["page"], len(body["results"])) == (3, 2, 2, 1)
    assert body["next"] is None and body["previous"].endswith(f"{LEECHES}?page_size=2")


def test_another_users_leeches_are_never_listed(alice, bob):
    lapse(bob, make_card(bob, "bob's"), 8)
    lapse(alice, make_card(alice, "alice's"), 8)

    assert listed(alice) == [("alice's", 8)]
    assert listed(bob) == [("bob's", 8)]


def test_the_threshold_is_a_setting(alice):
    lapse(alice, make_card(alice, "twice"), 2)

    with override_settings(RESEE={**settings.RESEE, "LEECH_LAPSES": 2}):
        assert listed(alice) == [("twice", 2)]
        assert alice.get("/api/review/schedules/").json()["results"][0]["leech"] is True


@pytest.mark.parametrize("params", [{"leech": "true"}, {"ordering": "lapses"}, {"page": "0"}])
def test_unknown_or_malformed_query_parameters_are_refused_by_name(alice, params):
    response = alice.get(LEECHES, params)

    assert response.status_code == 400
    assert set(response.json()) == set(params)
