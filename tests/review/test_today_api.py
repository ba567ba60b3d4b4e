"""GET /api/review/today/: the user's active cards due on or before the local today."""

from datetime import date

import pytest
from django.test import override_settings

from content.models import Content
from content.services import content_create
from tests.helpers import (
    TODAY,
    committed,
    days,
    due_content_ids,
    make_card,
    make_category,
    schedule_of,
    set_learner,
    today_list,
    utc,
)


def test_a_new_card_is_due_on_the_day_it_is_created(alice):
    vocab = make_category(alice, "Vocabulary", "vocab")
    card = make_card(alice, "der Hund", category=vocab)
    Content.objects.filter(pk=card.pk).update(body="the dog")

    response = today_list(alice)

    assert response.status_code == 200
    assert response.json() == {
        "count": 1,
        "total_pages": 1,
        "page": 1,
        "page_size": 20,
        "next": None,
        "previous": None,
        "results": [
            {
                "id": schedule_of(card).id,
                "content_id": card.id,
                "title": "der Hund",
                "body": "the dog",
                "category": {"id": vocab.id, "name": "Vocabulary", "slug": "vocab"},
                "interval_step": 0,
                "next_review_date": TODAY.isoformat(),
                "initial_review_completed": False,
                "state": "new",
                "due_at": None,
                # a new card on the ladder: the first answer lands on the first rung, whatever it is
                "intervals": {"again": 86400, "hard": 86400, "good": 86400, "easy": 86400},
            }
        ],
        "total_count": 1,
    }


def test_an_uncategorised_card_has_no_category_in_the_list(alice):
    make_card(alice, "loose card")

    (item,) = today_list(alice).json()["results"]

    assert item["category"] is None


def test_overdue_cards_stay_due_and_future_cards_wait(alice):
    long_overdue = make_card(alice, "long overdue", due=TODAY - days(40))
    due_today = make_card(alice, "due today", due=TODAY)
    make_card(alice, "tomorrow", due=TODAY + days(1))
    make_card(alice, "next month", due=TODAY + days(30))

    body = today_list(alice).json()

    assert [item["content_id"] for item in body["results"]] == [long_overdue.id, due_today.id]
    assert body["count"] == 2
    assert body["total_count"] == 4


def test_due_cards_are_ordered_by_date_then_by_id(alice):
    today_card = make_card(alice, "a", due=TODAY)
    first_of_tie = make_card(alice, "b", due=TODAY - days(5))
    second_of_tie = make_card(alice, "c", due=TODAY - days(5))
    yesterday_card = make_card(alice, "d", due=TODAY - days(1))

    assert due_content_ids(alice) == [first_of_tie.id, second_of_tie.id, yesterday_card.id, today_card.id]


def test_paused_cards_are_never_due_nor_counted(alice):
    active = make_card(alice, "active", due=TODAY - days(2))
    make_card(alice, "paused overdue", due=TODAY - days(3), active=False)
    make_card(alice, "paused today", active=False)

    body = today_list(alice).json()

    assert [item["content_id"] for item in body["results"]] == [active.id]
    assert body["count"] == 1
    assert body["total_count"] == 1


def test_another_users_cards_never_appear(alice, bob):
    mine = make_card(alice, "mine")
    make_card(bob, "bob's due", due=TODAY - days(1))
    make_card(bob, "bob's future", due=TODAY + days(3))

    body = today_list(alice).json()

    assert [item["content_id"] for item in body["results"]] == [mine.id]
    assert (body["count"], body["total_count"]) == (1, 1)


def test_a_user_with_no_cards_gets_one_empty_page(alice):
    assert today_list(alice).json() == {
        "count": 0,
        "total_pages": 1,
        "page": 1,
        "page_size": 20,
        "next": None,
        "previous": None,
        "results": [],
        "total_count": 0,
    }


def test_the_category_filter_narrows_results_and_count_but_not_total_count(alice):
    vocab, grammar = make_category(alice, "Vocabulary", "vocab"), make_category(alice, "Grammar", "grammar")
    vocab_due = make_card(alice, "vocab due", category=vocab, due=TODAY - days(1))
    make_card(alice, "vocab later", category=vocab, due=TODAY + days(2))
    make_card(alice, "grammar due", category=grammar)
    make_card(alice, "uncategorised due")
    make_card(alice, "paused vocab", category=vocab, active=False)

    body = today_list(alice, category_slug="vocab").json()

    assert [item["content_id"] for item in body["results"]] == [vocab_due.id]
    assert body["count"] == 1
    # total_count is every active schedule of the user, filter or not (the paused one excluded).
    assert body["total_count"] == 4


def test_the_category_filter_only_looks_at_the_users_own_categories(alice, bob):
    make_card(alice, "alice grammar", category=make_category(alice, "Grammar", "grammar"))
    make_card(bob, "bob vocab", category=make_category(bob, "Vocabulary", "vocab"))

    body = today_list(alice, category_slug="vocab").json()

    assert (body["results"], body["count"], body["total_count"]) == ([], 0, 1)


def test_the_list_is_paged_like_the_other_lists_with_links_a_pager_can_follow(alice):
    cards = [make_card(alice, f"card {i}", due=TODAY - days(5 - i)) for i in range(5)]

    body = today_list(alice, page_size=2, page=2).json()

    assert [item["content_id"] for item in body["results"]] == [cards[2].id, cards[3].id]
    assert (body["count"], body["total_pages"], body["page"], body["page_size"]) == (5, 3, 2, 2)
    assert body["next"] == "http://testserver/api/review/today/?page=3&page_size=2"
    assert body["previous"] == "http://testserver/api/review/today/?page=1&page_size=2"
    assert body["total_count"] == 5


def test_twenty_cards_a_page_by_default_and_at_most_a_hundred(alice):
    set_learner(alice, new_cards_per_day=101)  # all new cards: the default limit would hold back 81
    with committed():
        for i in range(101):
            content_create(owner_id=alice.user.id, title=f"card {i}")

    assert len(today_list(alice).json()["results"]) == 20
    body = today_list(alice, page_size=500).json()
    assert (len(body["results"]), body["page_size"], body["total_pages"]) == (100, 100, 2)


def test_the_links_of_a_category_page_keep_the_filter(alice):
    vocab = make_category(alice, "Vocabulary", "vocab")
    for i in range(3):
        make_card(alice, f"word {i}", category=vocab)

    body = today_list(alice, category_slug="vocab", page_size=1, page=2).json()

    assert body["next"] == "http://testserver/api/review/today/?category_slug=vocab&page=3&page_size=1"


def test_a_page_past_the_end_is_a_404(alice):
    make_card(alice, "only card")

    assert today_list(alice, page=2).status_code == 404


@pytest.mark.parametrize("name, value", [("page", "0"), ("page", "two"), ("page_size", "-1"), ("page_size", "1e3")])
def test_a_malformed_page_or_page_size_is_a_400_naming_it(alice, name, value):
    response = today_list(alice, **{name: value})

    assert response.status_code == 400
    assert list(response.json()) == [name]


@pytest.mark.parametrize("slug", ["a b", "no/slash", "semi;colon", "x" * 101])
def test_an_invalid_category_slug_is_rejected(alice, slug):
    response = today_list(alice, category_slug=slug)

    assert response.status_code == 400
    assert "category_slug" in response.json()


@pytest.mark.parametrize(
    "time_zone, moment, due_dates",
    [
        # The learner's day starts at 04:00 by default: 02:00 UTC on 15 May is still 14 May in UTC.
        ("UTC", utc(2024, 5, 15, 2, 0), {date(2024, 5, 14)}),
        ("UTC", utc(2024, 5, 15, 4, 0), {date(2024, 5, 14), date(2024, 5, 15)}),
        # 02:00 UTC on 15 May is the evening of 14 May in New York.
        ("America/New_York", utc(2024, 5, 15, 2, 0), {date(2024, 5, 14)}),
        # 17:00 UTC on 15 May is 05:00 on 16 May in Auckland, past the rollover.
        ("Pacific/Auckland", utc(2024, 5, 15, 17, 0), {date(2024, 5, 14), date(2024, 5, 15), date(2024, 5, 16)}),
        ("Pacific/Auckland", utc(2024, 5, 15, 14, 0), {date(2024, 5, 14), date(2024, 5, 15)}),
    ],
)
def test_a_learner_who_set_no_zone_has_days_of_the_configured_time_zone(alice, clock, time_zone, moment, due_dates):
    cards = {due: make_card(alice, due.isoformat(), due=due) for due in [date(2024, 5, n) for n in (14, 15, 16)]}
    clock.now = moment

    with override_settings(TIME_ZONE=time_zone):
        body = today_list(alice).json()

    assert {date.fromisoformat(item["next_review_date"]) for item in body["results"]} == due_dates
    assert [item["content_id"] for item in body["results"]] == [cards[due].id for due in sorted(due_dates)]
    assert body["count"] == len(due_dates)


def test_a_unicode_category_slug_filters_like_any_other(alice):
    words = make_category(alice, "Wörter", "wörter")
    card = make_card(alice, "das Wort", category=words)
    make_card(alice, "other")

    body = today_list(alice, category_slug="wörter").json()

    assert [item["content_id"] for item in body["results"]] == [card.id]
    assert body["results"][0]["category"]["slug"] == "wörter"
