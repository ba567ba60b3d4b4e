"""`manage.py seed_demo`: the demo user, benchmark users, and idempotent re-runs."""

from collections import Counter
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from accounts.models import Learner
from analytics.models import DayTally
from content.models import Category, Content
from review.models import ReviewHistory, ReviewSchedule, State
from tests.helpers import NOW, TODAY, days

User = get_user_model()


def seed(*args) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def row_counts() -> dict:
    return {model.__name__: model.objects.count() for model in (User, Category, Content, ReviewSchedule, ReviewHistory)}


@pytest.fixture
def demo(db):
    seed()
    return User.objects.get(username="demo")


def test_seeding_creates_the_demo_user_with_100_cards_in_5_categories(demo):
    contents = Content.objects.filter(owner=demo)
    categories = Category.objects.filter(owner=demo)

    assert contents.count() == 100
    assert categories.count() == 5
    assert set(contents.exclude(category=None).values_list("category__owner", flat=True)) == {demo.id}
    assert set(contents.exclude(category=None).values_list("category", flat=True)) == set(
        categories.values_list("id", flat=True)
    )


def test_every_demo_card_has_a_schedule_and_some_are_due_today(demo):
    schedules = ReviewSchedule.objects.filter(owner=demo)
    due = schedules.filter(is_active=True, next_review_date__lte=TODAY).count()

    assert schedules.count() == 100
    assert set(schedules.values_list("content__owner", flat=True)) == {demo.id}
    assert 0 < due < 100


def test_the_demo_history_lies_within_the_last_60_days(demo):
    history = ReviewHistory.objects.filter(user=demo)

    assert history.count() > 0
    assert set(history.values_list("content__owner", flat=True)) == {demo.id}
    assert all(NOW - days(60) <= moment <= NOW for moment in history.values_list("reviewed_at", flat=True))


def test_the_demo_user_can_log_in_and_sees_cards_due(demo, anon):
    anon.login("demo", "demo-pass-123")

    body = anon.get("/api/review/today/").json()

    assert body["total_count"] == 100
    assert body["count"] == ReviewSchedule.objects.filter(owner=demo, next_review_date__lte=TODAY).count()
    assert anon.get("/api/analytics/stats/").json()["total_contents"] == 100


def test_seeding_twice_creates_nothing_new(demo):
    before = row_counts()

    output = seed()

    assert row_counts() == before
    assert "0 user(s) created, 1 already present" in output


def test_benchmark_seeding_creates_numbered_users_with_the_requested_number_of_cards(db):
    output = seed("--users", "3", "--contents", "5")

    names = ["bench-00001", "bench-00002", "bench-00003"]
    assert sorted(User.objects.values_list("username", flat=True)) == names
    for user in User.objects.all():
        assert Content.objects.filter(owner=user).count() == 5
        assert ReviewSchedule.objects.filter(owner=user).count() == 5
        assert Category.objects.filter(owner=user).count() == 5
    assert "3 user(s) created" in output


def test_benchmark_seeding_skips_users_that_already_exist(db):
    seed("--users", "2", "--contents", "5")
    before = row_counts()

    output = seed("--users", "3", "--contents", "5")

    after = row_counts()
    assert after["User"] == before["User"] + 1
    assert after["Content"] == before["Content"] + 5
    assert "1 user(s) created, 2 already present" in output


def test_benchmark_users_live_in_zones_around_the_world_with_days_of_their_own_and_limits_on(db):
    seed("--users", "10", "--contents", "5")

    learners = list(Learner.objects.all())
    assert {learner.time_zone for learner in learners} >= {"Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Seoul"}
    assert len({learner.day_starts_at_hour for learner in learners}) > 1
    assert {learner.reviews_per_day for learner in learners} == {200, 30}  # some tighter than the defaults
    for learner in learners:
        moments = ReviewHistory.objects.filter(user_id=learner.user_id).values_list("reviewed_at", flat=True)
        tallies = DayTally.objects.filter(user_id=learner.user_id).values_list("day", "reviews")
        assert dict(tallies) == Counter(learner.day_of(moment) for moment in moments)  # the learner's own days


def test_every_other_benchmark_learner_is_on_fsrs_with_cards_forgotten_minutes_ago_on_their_steps(db):
    seed("--users", "4", "--contents", "20")

    fsrs = Learner.objects.filter(scheduler=Learner.FSRS).values_list("user_id", flat=True)
    assert (len(fsrs), Learner.objects.filter(scheduler=Learner.LADDER).count()) == (2, 2)
    for user_id in fsrs:
        recent = ReviewSchedule.objects.filter(owner_id=user_id, last_review_at__gte=NOW - timedelta(minutes=15))
        assert recent.count() == 5
        for row in recent:  # a learning step of 1 minute, or the relearning step of 10
            assert row.state in (State.LEARNING, State.RELEARNING)
            assert row.due_at - row.last_review_at in (timedelta(minutes=1), timedelta(minutes=10))
        assert ReviewSchedule.objects.filter(owner_id=user_id, state=State.REVIEW).exclude(stability=None).exists()
    ladder = ReviewSchedule.objects.exclude(owner_id__in=fsrs)
    assert set(ladder.values_list("state", flat=True)) == {State.REVIEW}
