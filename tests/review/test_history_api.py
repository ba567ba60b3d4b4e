"""GET /api/review/history/: the user's own completions, newest first, paginated."""

from datetime import datetime

import pytest

from tests.helpers import NOW, complete, days, make_card, make_history

URL = "/api/review/history/"


def history_ids(client, **params) -> list[int]:
    response = client.get(URL, params)
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def test_a_completion_shows_up_in_the_history(alice):
    card = make_card(alice, "der Hund")
    complete(alice, card, "partial", time_spent_seconds=17)

    body = alice.get(URL).json()

    assert body["count"] == 1
    (item,) = body["results"]
    assert {key: value for key, value in item.items() if key != "reviewed_at"} == {
        "id": item["id"],
        "content_id": card.id,
        "title": "der Hund",
        "result": "partial",
        "time_spent_seconds": 17,
    }
    assert datetime.fromisoformat(item["reviewed_at"]) == NOW


def test_the_history_lists_the_newest_review_first(alice):
    card = make_card(alice)
    middle = make_history(alice, card, at=NOW - days(2))
    newest = make_history(alice, card, at=NOW)
    oldest = make_history(alice, card, at=NOW - days(9))

    assert history_ids(alice) == [newest.id, middle.id, oldest.id]


def test_reviews_at_the_same_moment_list_the_last_recorded_first(alice):
    card = make_card(alice)
    first = make_history(alice, card)
    second = make_history(alice, card)

    assert history_ids(alice) == [second.id, first.id]


def test_the_history_shows_only_the_users_own_reviews(alice, bob):
    mine = make_history(alice, make_card(alice))
    make_history(bob, make_card(bob))

    assert history_ids(alice) == [mine.id]
    assert alice.get(URL).json()["count"] == 1


def test_the_history_is_paginated(alice):
    card = make_card(alice)
    rows = [make_history(alice, card, at=NOW - days(i)) for i in range(5)]

    first = alice.get(URL, {"page_size": 2}).json()

    assert (first["count"], first["total_pages"], first["page"], first["page_size"]) == (5, 3, 1, 2)
    assert [item["id"] for item in first["results"]] == [rows[0].id, rows[1].id]
    assert history_ids(alice, page_size=2, page=3) == [rows[4].id]


@pytest.mark.parametrize("params", [{"page": "0"}, {"page": "x"}, {"page_size": "-1"}, {"page_size": "2.0"}])
def test_malformed_history_paging_is_rejected(alice, params):
    assert alice.get(URL, params).status_code == 400
