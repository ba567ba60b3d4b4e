"""analytics.selectors called directly, with an explicit `today`."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from analytics.selectors import current_streak, stats_for
from review.models import ReviewSchedule, State
from review.services import review_counts_rebuild
from tests.helpers import NOW, TODAY, days, make_card, make_history, set_learner, utc


def review_on(user, card, day: date, hour: int = 12):
    return make_history(user, card, at=utc(day.year, day.month, day.day, hour, 0))


@pytest.mark.parametrize(
    "days_ago, streak",
    [
        ([], 0),
        ([0], 1),
        ([0, 0, 0], 1),
        ([0, 1, 2], 3),
        ([0, 0, 1, 1, 2], 3),
        ([1], 1),
        ([1, 2, 3], 3),
        ([0, 2, 3], 1),
        ([1, 3], 1),
        ([2], 0),
        ([2, 3, 4], 0),
        ([-1], 0),  # a review dated tomorrow neither starts nor breaks a streak
        ([-1, 0, 1], 2),
        (list(range(40)), 40),
    ],
)
def test_the_streak_is_the_run_of_reviewed_days_ending_today_or_yesterday(make_user, days_ago, streak):
    user = make_user("carol")
    card = make_card(user)
    for n in days_ago:
        review_on(user, card, TODAY - days(n))

    assert current_streak(user_id=user.id, today=TODAY) == streak


def test_the_streak_ignores_other_users_reviews(make_user):
    carol, dave = make_user("carol"), make_user("dave")
    review_on(carol, make_card(carol), TODAY - days(1))
    daves = make_card(dave)
    for n in [0, 2, 3]:
        review_on(dave, daves, TODAY - days(n))

    assert current_streak(user_id=carol.id, today=TODAY) == 1


@pytest.mark.parametrize("time_zone, streaks_on_13_14_15", [("UTC", [1, 2, 2]), ("America/New_York", [1, 1, 0])])
def test_the_streak_uses_local_days(make_user, time_zone, streaks_on_13_14_15):
    user = make_user("carol")
    card = make_card(user)
    set_learner(user, day_starts_at_hour=0)  # days from midnight, to see the zone's alone
    with override_settings(TIME_ZONE=time_zone):
        # 22:30 and 01:30 UTC: the same evening (13 May) in New York, two different days in UTC.
        make_history(user, card, at=utc(2024, 5, 13, 22, 30))
        make_history(user, card, at=utc(2024, 5, 14, 1, 30))

        streaks = [current_streak(user_id=user.id, today=date(2024, 5, day)) for day in (13, 14, 15)]

    assert streaks == streaks_on_13_14_15


def test_a_rebuild_recounts_the_days_in_the_time_zone_now_configured(make_user):
    user = make_user("carol")
    card = make_card(user)
    set_learner(user, day_starts_at_hour=0)
    make_history(user, card, at=utc(2024, 5, 13, 22, 30))
    make_history(user, card, at=utc(2024, 5, 14, 1, 30))
    assert stats_for(user_id=user.id, today=date(2024, 5, 14))["current_streak_days"] == 2

    with override_settings(TIME_ZONE="America/New_York"):
        review_counts_rebuild(user_id=user.id)
        body = stats_for(user_id=user.id, today=date(2024, 5, 13))

    assert (body["reviews_today"], body["current_streak_days"], body["total_reviews"]) == (2, 1, 2)


def test_stats_are_computed_for_the_given_day(make_user):
    user = make_user("carol")
    card = make_card(user)
    review_on(user, card, date(2024, 3, 1))
    review_on(user, card, date(2024, 3, 2))

    body = stats_for(user_id=user.id, today=date(2024, 3, 2))

    assert body["reviews_today"] == 1
    assert body["current_streak_days"] == 2
    assert body["reviews_per_day"][-1] == {"date": "2024-03-02", "reviews": 1}
    assert body["reviews_per_day"][-2] == {"date": "2024-03-01", "reviews": 1}
    assert body["reviews_per_day"][0]["date"] == "2024-02-02"  # 30 days, leap February included


def test_the_stats_read_as_many_queries_for_a_year_of_history_as_for_a_day(make_user):
    """The stats are computed from per-day tallies: their cost follows the days shown, not the
    history's length (the bench timed this against 50,000 rows; this is its structural guarantee)."""
    queries = []
    for name, history_days in (("short", 1), ("long", 365)):
        user = make_user(name)
        card = make_card(user)
        for n in range(history_days):
            review_on(user, card, TODAY - days(n))
        with CaptureQueriesContext(connection) as captured:
            body = stats_for(user_id=user.id, today=TODAY)
        assert body["current_streak_days"] == history_days
        queries.append(len(captured))

    assert queries[0] == queries[1] <= 3


def test_the_summary_counts_a_card_on_its_learning_steps_as_due_once_its_moment_has_passed(make_user):
    user = make_user("carol")
    card = make_card(user, due=TODAY, initial=True)
    ReviewSchedule.objects.filter(content=card).update(state=State.LEARNING, due_at=NOW + timedelta(minutes=1))

    before = stats_for(user_id=user.id, today=TODAY, now=NOW)["summary"]
    after = stats_for(user_id=user.id, today=TODAY, now=NOW + timedelta(minutes=1))["summary"]

    assert (before["due"], after["due"]) == (0, 1)
