"""Concurrent completions: the row lock in review_complete serialises those of one card, so none
is lost, and first reviews of a day count once each in the day's tally. These need PostgreSQL
(SQLite has no row locks and one writer at a time)."""

import threading

import pytest
from django.db import connection, transaction

from analytics.models import DayTally
from analytics.selectors import stats_for
from review.models import ReviewHistory, ReviewSchedule
from review.services import review_complete
from tests.helpers import DEFAULT_TIMEOUT, LADDER, TODAY, days, make_card, run_in_threads, schedule_of

pytestmark = pytest.mark.integration

THREADS = 6  # fewer than the ladder's rungs, so a lost update cannot hide behind the top-rung cap


@pytest.fixture
def racer(transactional_db, django_user_model):
    return django_user_model.objects.create_user(username="racer", password="x-unused-x")


def test_simultaneous_completions_of_one_card_are_all_applied_one_after_another(racer):
    card = make_card(racer, "contended")
    twin = make_card(racer, "sequential twin")
    for _ in range(THREADS):
        review_complete(user_id=racer.id, content_id=twin.id, result="remembered")

    errors = run_in_threads(THREADS, lambda: review_complete(user_id=racer.id, content_id=card.id, result="remembered"))

    assert errors == []
    assert ReviewHistory.objects.filter(content=card).count() == THREADS
    expected, raced = schedule_of(twin), schedule_of(card)
    assert expected.interval_step == THREADS - 1  # first review lands on 0, then one rung each
    assert (raced.interval_step, raced.next_review_date) == (expected.interval_step, expected.next_review_date)
    assert raced.next_review_date == TODAY + days(LADDER[THREADS - 1])


def test_a_completion_waits_for_a_concurrent_change_and_builds_on_it(racer):
    """Another transaction holds the card's row and moves it to step 3: the completion must wait
    for it and climb from 3, not from the state it would have read before the lock."""
    card = make_card(racer, "locked")
    locked, release, finished = threading.Event(), threading.Event(), threading.Event()

    def holder():
        try:
            with transaction.atomic():
                schedule = ReviewSchedule.objects.select_for_update().get(content=card)
                schedule.interval_step, schedule.initial_review_completed = 3, True
                schedule.save()
                locked.set()
                release.wait(DEFAULT_TIMEOUT)
        finally:
            connection.close()

    def reviewer():
        try:
            review_complete(user_id=racer.id, content_id=card.id, result="remembered")
            finished.set()
        finally:
            connection.close()

    threads = [threading.Thread(target=holder, daemon=True), threading.Thread(target=reviewer, daemon=True)]
    threads[0].start()
    assert locked.wait(DEFAULT_TIMEOUT)
    threads[1].start()
    try:
        assert not finished.wait(0.3), "review_complete did not wait for the row lock"
    finally:
        release.set()
        for thread in threads:
            thread.join(DEFAULT_TIMEOUT)
    assert finished.is_set()
    schedule = schedule_of(card)
    assert (schedule.interval_step, schedule.next_review_date) == (4, TODAY + days(LADDER[4]))
    assert ReviewHistory.objects.filter(content=card).count() == 1


def test_simultaneous_first_completions_of_a_day_on_different_cards_all_count_in_one_run(racer, clock):
    """The first review of a day creates its tally row and joins it to yesterday's run: racing
    first reviews must neither fail on the unique row nor lose a count or the run."""
    cards = [make_card(racer, f"card {i}") for i in range(THREADS)]
    clock.advance(days=-1)
    review_complete(user_id=racer.id, content_id=cards[0].id, result="remembered")
    clock.advance(days=1)
    ReviewSchedule.objects.filter(owner=racer).update(next_review_date=TODAY)
    pending = iter(cards)
    lock = threading.Lock()

    def complete_next():
        with lock:
            card = next(pending)
        review_complete(user_id=racer.id, content_id=card.id, result="forgot")

    errors = run_in_threads(THREADS, complete_next)

    assert errors == []
    today = DayTally.objects.get(user=racer, day=TODAY)
    assert (today.reviews, today.run_start) == (THREADS, TODAY - days(1))
    assert sum(ReviewSchedule.objects.filter(owner=racer).values_list("reviews", flat=True)) == THREADS + 1
    assert stats_for(user_id=racer.id, today=TODAY)["current_streak_days"] == 2
