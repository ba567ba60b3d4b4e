"""GET /api/analytics/stats/: totals, success rates, streak and the last 30 days, per user."""

from datetime import date

import pytest
from django.conf import settings
from django.test import override_settings

from tests.helpers import (
    NOW,
    TODAY,
    api_complete,
    complete,
    days,
    fetch,
    make_card,
    make_category,
    make_history,
    schedule_of,
    set_learner,
    uncached,
    utc,
    warm,
)

URL = "/api/analytics/stats/"


def stats(client) -> dict:
    response = client.get(URL)
    assert response.status_code == 200, response.content
    return response.json()


def per_day(body) -> dict[str, int]:
    return {entry["date"]: entry["reviews"] for entry in body["reviews_per_day"]}


def by_category(body) -> dict:
    return {entry["slug"]: entry for entry in body["success_rate_by_category"]}


def test_a_user_without_reviews_gets_empty_stats(alice):
    make_card(alice)

    assert stats(alice) == {
        "summary": {
            "due": 1,
            "overdue": 0,
            "new": 1,
            "reviews_today": 0,
            "reviews_last_30_days": 0,
            "success_rate": None,
            "retention": None,
            "current_streak_days": 0,
            "leeches": 0,
        },
        "total_contents": 1,
        "total_reviews": 0,
        "reviews_today": 0,
        "success_rate": None,
        "retention": None,
        "success_rate_by_category": [],
        "current_streak_days": 0,
        "reviews_per_day": [{"date": (TODAY - days(29 - i)).isoformat(), "reviews": 0} for i in range(30)],
        "days_recounting": False,
    }


def test_the_summary_tells_what_a_home_screen_shows(alice):
    make_card(alice, "new, due today")
    make_card(alice, "new, overdue", due=TODAY - days(2))
    make_card(alice, "reviewed, overdue", due=TODAY - days(1), initial=True)
    make_card(alice, "reviewed, due later", due=TODAY + days(3), initial=True)
    make_card(alice, "paused, new and overdue", due=TODAY - days(5), active=False)
    reviewed = make_card(alice, "reviewed today", due=TODAY + days(1), initial=True)
    make_history(alice, reviewed, "remembered", at=NOW)
    make_history(alice, reviewed, "forgot", at=NOW - days(1))
    make_history(alice, reviewed, "remembered", at=NOW - days(40))

    assert stats(alice)["summary"] == {
        "due": 3,
        "overdue": 2,
        "new": 2,
        "reviews_today": 1,
        "reviews_last_30_days": 2,
        "success_rate": 66.7,
        "retention": 66.7,
        "current_streak_days": 2,
        "leeches": 0,
    }


def test_pausing_a_card_shows_in_the_summary_at_once(alice):
    card = make_card(alice, "due")
    assert stats(alice)["summary"]["due"] == 1  # cached now

    response = alice.patch(f"/api/review/schedules/{schedule_of(card).id}/", {"is_active": False})

    assert response.status_code == 200
    assert stats(alice)["summary"]["due"] == 0


def test_reviews_through_the_api_are_counted(alice):
    first, second = make_card(alice, "one"), make_card(alice, "two")
    complete(alice, first, "remembered")
    complete(alice, second, "forgot")

    body = stats(alice)

    assert (body["total_contents"], body["total_reviews"], body["reviews_today"]) == (2, 2, 2)
    assert body["success_rate"] == 50.0
    assert body["current_streak_days"] == 1
    assert body["reviews_per_day"][-1] == {"date": TODAY.isoformat(), "reviews": 2}


@pytest.mark.parametrize(
    "results, rate",
    [
        (["remembered"], 100.0),
        (["forgot"], 0.0),
        (["partial", "remembered"], 50.0),
        (["remembered", "remembered", "forgot"], 66.7),
        (["remembered", "partial", "forgot"], 33.3),
        (["remembered"] * 7 + ["partial"], 87.5),
    ],
)
def test_the_success_rate_is_the_share_of_remembered_reviews_in_percent(alice, results, rate):
    card = make_card(alice)
    for result in results:
        make_history(alice, card, result)

    assert stats(alice)["success_rate"] == rate


def test_success_rates_are_given_per_category_with_uncategorised_content_apart(alice):
    vocab, grammar = make_category(alice, "Vocabulary", "vocab"), make_category(alice, "Grammar", "grammar")
    make_category(alice, "Unused", "unused")
    for result in ["remembered", "remembered", "forgot"]:
        make_history(alice, make_card(alice, category=vocab), result)
    make_history(alice, make_card(alice, category=grammar), "partial")
    loose = make_card(alice, "loose")
    make_history(alice, loose, "remembered")
    make_history(alice, loose, "remembered")

    body = stats(alice)

    assert by_category(body) == {
        "vocab": {
            "category_id": vocab.id,
            "slug": "vocab",
            "name": "Vocabulary",
            "reviews": 3,
            "success_rate": 66.7,
            "retention": 66.7,
        },
        "grammar": {
            "category_id": grammar.id,
            "slug": "grammar",
            "name": "Grammar",
            "reviews": 1,
            "success_rate": 0.0,
            "retention": 100.0,
        },
        None: {
            "category_id": None,
            "slug": None,
            "name": None,
            "reviews": 2,
            "success_rate": 100.0,
            "retention": 100.0,
        },
    }
    assert len(body["success_rate_by_category"]) == 3
    assert body["success_rate"] == 66.7


def test_retention_counts_hard_as_a_pass_where_the_success_rate_does_not(alice):
    card = make_card(alice)
    for result in ["again", "hard", "good", "easy"]:
        api_complete(alice, card.id, result)

    body = stats(alice)

    assert (body["success_rate"], body["retention"]) == (50.0, 75.0)
    assert (body["summary"]["success_rate"], body["summary"]["retention"]) == (50.0, 75.0)


@pytest.mark.parametrize(
    "results, retention",
    [
        (["hard"], 100.0),
        (["partial"], 100.0),
        (["again"], 0.0),
        (["forgot", "partial", "remembered"], 66.7),
        (["again", "again", "hard"], 33.3),
    ],
)
def test_retention_is_the_share_of_reviews_passed_in_percent_older_words_included(alice, results, retention):
    card = make_card(alice)
    for result in results:
        make_history(alice, card, result)

    assert stats(alice)["retention"] == retention


def test_retention_is_given_per_category_beside_the_success_rate(alice):
    vocab, grammar = make_category(alice, "Vocabulary", "vocab"), make_category(alice, "Grammar", "grammar")
    for result in ["hard", "hard", "good", "again"]:
        api_complete(alice, make_card(alice, category=vocab).id, result)
    for result in ["easy", "again"]:
        api_complete(alice, make_card(alice, category=grammar).id, result)

    rates = {slug: (row["success_rate"], row["retention"]) for slug, row in by_category(stats(alice)).items()}

    assert rates == {"vocab": (25.0, 75.0), "grammar": (50.0, 50.0)}


def test_the_summary_counts_the_leeches(alice):
    leech, almost = make_card(alice, "leech"), make_card(alice, "almost")
    for card, lapses in [(leech, 8), (almost, 7)]:
        api_complete(alice, card.id, "good")  # learned: from now on an again is a lapse
        for _ in range(lapses):
            api_complete(alice, card.id, "again")

    assert stats(alice)["summary"]["leeches"] == 1


def test_the_leech_threshold_is_a_setting(alice):
    card = make_card(alice)
    api_complete(alice, card.id, "good")
    api_complete(alice, card.id, "again")

    with override_settings(RESEE={**settings.RESEE, "LEECH_LAPSES": 1}):
        assert stats(alice)["summary"]["leeches"] == 1


def test_answers_bump_the_cached_retention_and_leeches(alice):
    card = make_card(alice)
    api_complete(alice, card.id, "good")
    for _ in range(7):
        api_complete(alice, card.id, "again")
    before = warm(alice, "stats").json()

    api_complete(alice, card.id, "hard")
    api_complete(alice, card.id, "again")

    after = fetch(alice, "stats").json()
    assert after == uncached(alice, "stats").json()
    assert (before["retention"], after["retention"]) == (12.5, 20.0)
    assert (before["summary"]["leeches"], after["summary"]["leeches"]) == (0, 1)


def test_stats_only_count_the_requesters_own_data(alice, bob):
    make_history(alice, make_card(alice), "forgot")
    bobs_category = make_category(bob, "Bob's", "bobs")
    for _ in range(3):
        make_history(bob, make_card(bob, category=bobs_category), "remembered")

    body = stats(alice)

    assert (body["total_contents"], body["total_reviews"], body["reviews_today"]) == (1, 1, 1)
    assert body["success_rate"] == 0.0
    assert list(by_category(body)) == [None]
    assert sum(entry["reviews"] for entry in body["reviews_per_day"]) == 1


def test_reviews_per_day_covers_the_last_30_days_oldest_first_with_zeros(alice):
    set_learner(alice, day_starts_at_hour=0)  # days from midnight: the hours below are around it
    card = make_card(alice)
    for days_ago, hour in [(0, 0), (0, 11), (1, 23), (1, 0), (1, 12), (29, 0), (30, 23), (45, 12)]:
        make_history(alice, card, at=utc(*(TODAY - days(days_ago)).timetuple()[:3], hour, 30))

    body = stats(alice)

    entries = body["reviews_per_day"]
    assert len(entries) == 30
    assert [entry["date"] for entry in entries] == [(TODAY - days(29 - i)).isoformat() for i in range(30)]
    counts = per_day(body)
    assert counts[TODAY.isoformat()] == 2
    assert counts[(TODAY - days(1)).isoformat()] == 3
    assert counts[(TODAY - days(29)).isoformat()] == 1
    assert sum(counts.values()) == 6  # 30 and 45 days ago are outside the window
    assert body["reviews_today"] == 2
    assert body["total_reviews"] == 8


def test_the_streak_counts_consecutive_days_ending_today(alice):
    card = make_card(alice)
    for days_ago in [0, 1, 2, 4]:
        make_history(alice, card, at=NOW - days(days_ago))

    assert stats(alice)["current_streak_days"] == 3


def test_the_streak_survives_until_the_day_without_a_review_is_over(alice):
    card = make_card(alice)
    for days_ago in [1, 2]:
        make_history(alice, card, at=NOW - days(days_ago))

    assert stats(alice)["current_streak_days"] == 2


@pytest.mark.parametrize(
    "time_zone, today, reviews_today, streak, last_two_days",
    [
        # UTC: one review on 14 May, one on 15 May, and it is 15 May.
        ("UTC", "2024-05-15", 1, 2, [1, 1]),
        # New York: both on 14 May (08:00 and 22:00 local), and it is still 14 May there.
        ("America/New_York", "2024-05-14", 2, 1, [0, 2]),
    ],
)
def test_days_are_counted_in_the_configured_time_zone(
    alice, clock, time_zone, today, reviews_today, streak, last_two_days
):
    set_learner(alice, day_starts_at_hour=0)  # days from midnight, to see the zone's alone
    card = make_card(alice)
    clock.now = utc(2024, 5, 15, 3, 0)
    with override_settings(TIME_ZONE=time_zone):
        make_history(alice, card, at=utc(2024, 5, 15, 2, 0))
        make_history(alice, card, at=utc(2024, 5, 14, 12, 0))
        body = stats(alice)

    entries = body["reviews_per_day"]
    assert entries[-1]["date"] == today
    assert entries[0]["date"] == (date.fromisoformat(today) - days(29)).isoformat()
    assert [entry["reviews"] for entry in entries[-2:]] == last_two_days
    assert (body["reviews_today"], body["current_streak_days"]) == (reviews_today, streak)
