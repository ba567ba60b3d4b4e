"""Concurrent completions: the row lock in review_complete serialises those of one card, so none
is lost, and first reviews of a day count once each in the day's tally; a completion retried with
its Idempotency-Key while the first is still running is applied once. These need PostgreSQL
(SQLite has no row locks and one writer at a time)."""

import threading
import time

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

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


# --- Completions retried with their Idempotency-Key --------------------------------------------------


def keyed_completion(user, card, key: str = "phone-retry-1", result: str = "remembered"):
    """POST /api/review/complete/ as a phone would, from a client (and a connection) of its own."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    try:
        return client.post("/api/review/complete/", {"content_id": card.id, "result": result}, HTTP_IDEMPOTENCY_KEY=key)
    finally:
        connection.close()


def waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0]


def wait_until_waiting_on_locks(count: int) -> None:
    deadline = time.monotonic() + DEFAULT_TIMEOUT
    while waiting_on_locks() < count:
        assert time.monotonic() < deadline, f"fewer than {count} requests waiting on a lock"
        time.sleep(0.01)


class HeldCard:
    """Holds the card's schedule row in a transaction of its own until released, so that a
    completion started meanwhile is still running (it waits for the row) when its retry comes."""

    def __init__(self, card):
        self.card, self.locked, self.release = card, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def _hold(self):
        try:
            with transaction.atomic():
                ReviewSchedule.objects.select_for_update().get(content=self.card)
                self.locked.set()
                self.release.wait(DEFAULT_TIMEOUT)
        finally:
            connection.close()

    def __enter__(self):
        self.thread.start()
        assert self.locked.wait(DEFAULT_TIMEOUT)
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.thread.join(DEFAULT_TIMEOUT)


def in_thread(target, answers: list) -> threading.Thread:
    thread = threading.Thread(target=lambda: answers.append(target()), daemon=True)
    thread.start()
    return thread


def test_two_identical_completions_racing_with_one_key_are_applied_once_and_answered_alike(racer):
    card = make_card(racer, "retried")

    answers = []
    errors = run_in_threads(2, lambda: answers.append(keyed_completion(racer, card)))

    assert errors == []
    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert sorted(str(answer.get("Idempotent-Replayed")) for answer in answers) == ["None", "true"]
    assert ReviewHistory.objects.filter(content=card).count() == 1
    schedule = schedule_of(card)
    assert (schedule.interval_step, schedule.next_review_date, schedule.reviews) == (0, TODAY + days(1), 1)


def test_a_retry_that_comes_while_the_first_is_running_waits_for_it_and_gets_its_answer(racer):
    card = make_card(racer, "slow first")
    answers = []
    with HeldCard(card):
        first = in_thread(lambda: keyed_completion(racer, card), answers)
        wait_until_waiting_on_locks(1)  # the first holds the key and waits for the card
        retry = in_thread(lambda: keyed_completion(racer, card), answers)
        wait_until_waiting_on_locks(2)  # the retry waits for the first's key
    first.join(DEFAULT_TIMEOUT), retry.join(DEFAULT_TIMEOUT)

    assert [answer.status_code for answer in answers] == [200, 200]
    assert answers[0].content == answers[1].content
    assert sorted(str(answer.get("Idempotent-Replayed")) for answer in answers) == ["None", "true"]
    assert ReviewHistory.objects.filter(content=card).count() == 1


def test_a_retry_still_waiting_when_its_patience_runs_out_is_a_409_and_changes_nothing(racer):
    card = make_card(racer, "very slow first")
    answers = []
    with override_settings(RESEE={**settings.RESEE, "IDEMPOTENCY_WAIT_SECONDS": 0.2}), HeldCard(card):
        first = in_thread(lambda: keyed_completion(racer, card), answers)
        wait_until_waiting_on_locks(1)
        retry = keyed_completion(racer, card)
        assert answers == []
    first.join(DEFAULT_TIMEOUT)

    assert retry.status_code == 409 and retry["Retry-After"] == "1"
    assert "still being processed" in retry.json()["detail"]
    assert answers[0].status_code == 200
    assert ReviewHistory.objects.filter(content=card).count() == 1


def test_another_body_with_the_key_of_a_running_first_is_a_422_once_it_is_done(racer):
    card = make_card(racer, "changed mind")
    answers = []
    with HeldCard(card):
        first = in_thread(lambda: keyed_completion(racer, card, result="remembered"), answers)
        wait_until_waiting_on_locks(1)
        other = in_thread(lambda: keyed_completion(racer, card, result="forgot"), answers)
        wait_until_waiting_on_locks(2)
    first.join(DEFAULT_TIMEOUT), other.join(DEFAULT_TIMEOUT)

    assert sorted(answer.status_code for answer in answers) == [200, 422]
    assert list(ReviewHistory.objects.filter(content=card).values_list("result", flat=True)) == ["remembered"]
