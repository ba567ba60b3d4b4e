"""review.services called directly: schedule creation, the ladder rule, and review_complete."""

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.test import override_settings
from rest_framework.exceptions import ValidationError

from review.models import ReviewHistory, ReviewSchedule
from review.services import next_step, review_complete, schedule_set_active
from tests.helpers import LADDER, NOW, TODAY, TOP_STEP, days, history_of, make_card, schedule_of, utc
from utils.conf import review_intervals


def with_ladder(ladder):
    return override_settings(RESEE={**settings.RESEE, "REVIEW_INTERVAL_DAYS": ladder})


def test_creating_content_creates_its_schedule_due_today(make_user):
    user = make_user("carol")

    card = make_card(user)

    schedule = schedule_of(card)
    assert schedule.owner_id == user.id
    assert (schedule.interval_step, schedule.next_review_date) == (0, TODAY)
    assert (schedule.is_active, schedule.initial_review_completed) == (True, False)


@pytest.mark.parametrize(
    "step, initial, result, expected",
    [
        (0, False, "remembered", 0),
        (5, False, "remembered", 0),
        (5, False, "partial", 0),
        (5, False, "forgot", 0),
        (0, True, "remembered", 1),
        (6, True, "remembered", 7),
        (TOP_STEP, True, "remembered", TOP_STEP),
        (2, True, "partial", 2),
        (TOP_STEP, True, "forgot", 0),
    ],
)
def test_next_step_follows_the_ladder_rule(step, initial, result, expected):
    schedule = ReviewSchedule(interval_step=step, initial_review_completed=initial)

    assert next_step(schedule=schedule, result=result) == expected


def test_review_complete_records_the_given_moment_and_dates_from_it(make_user):
    user = make_user("carol")
    card = make_card(user, step=1, initial=True)
    moment = utc(2024, 7, 1, 23, 30)

    schedule = review_complete(
        user_id=user.id, content_id=card.id, result="remembered", time_spent_seconds=9, now=moment
    )

    assert (schedule.interval_step, schedule.next_review_date) == (2, moment.date() + days(LADDER[2]))
    (row,) = history_of(user)
    assert (row.result, row.time_spent_seconds, row.reviewed_at) == ("remembered", 9, moment)


def test_review_complete_defaults_to_the_clock(make_user, clock):
    user = make_user("carol")
    card = make_card(user)

    review_complete(user_id=user.id, content_id=card.id, result="partial")

    assert history_of(user)[0].reviewed_at == NOW
    assert schedule_of(card).next_review_date == TODAY + days(1)


def test_review_complete_refuses_another_users_card(make_user):
    owner, intruder = make_user("carol"), make_user("mallory")
    card = make_card(owner)

    with pytest.raises(Http404):
        review_complete(user_id=intruder.id, content_id=card.id, result="remembered")

    assert ReviewHistory.objects.count() == 0


def test_review_complete_refuses_a_paused_card_and_writes_nothing(make_user):
    user = make_user("carol")
    card = make_card(user, active=False)

    with pytest.raises(ValidationError):
        review_complete(user_id=user.id, content_id=card.id, result="remembered")

    assert ReviewHistory.objects.count() == 0
    assert schedule_of(card).initial_review_completed is False


def test_a_custom_ladder_sets_the_intervals(make_user):
    user = make_user("carol")
    card = make_card(user, step=0, initial=True)

    with with_ladder([2, 5, 11]):
        schedule = review_complete(user_id=user.id, content_id=card.id, result="remembered")

    assert (schedule.interval_step, schedule.next_review_date) == (1, TODAY + days(5))


@pytest.mark.parametrize("result, expected_step", [("partial", 2), ("remembered", 2)])
def test_a_card_above_a_shortened_ladder_lands_on_its_top_rung(make_user, result, expected_step):
    user = make_user("carol")
    card = make_card(user, step=6, initial=True)

    with with_ladder([1, 3, 7]):
        schedule = review_complete(user_id=user.id, content_id=card.id, result=result)

    assert (schedule.interval_step, schedule.next_review_date) == (expected_step, TODAY + days(7))


@pytest.mark.parametrize("ladder", [[], [0, 1], [3, 3], [5, 2], ["x"], None])
def test_a_misconfigured_ladder_is_reported(ladder):
    with with_ladder(ladder), pytest.raises(ImproperlyConfigured):
        review_intervals()


def test_the_default_ladder_is_the_documented_one():
    assert review_intervals() == LADDER


def test_pausing_and_resuming_keeps_the_cards_place_on_the_ladder(make_user):
    user = make_user("carol")
    card = make_card(user, step=4, initial=True, due=TODAY - days(2))

    schedule_set_active(schedule=schedule_of(card), is_active=False)
    assert schedule_of(card).is_active is False
    schedule_set_active(schedule=schedule_of(card), is_active=True)

    schedule = schedule_of(card)
    assert (schedule.is_active, schedule.interval_step, schedule.next_review_date) == (True, 4, TODAY - days(2))
