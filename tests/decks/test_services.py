"""decks.services.import_run called as a worker calls it: a job that fails says why, a job run
again resumes where its last commit left it, and one that keeps killing its worker is given up;
an Anki package's review log becomes the created cards' history, counted exactly."""

from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError

from accounts.selectors import learner_day
from analytics.models import DayTally
from content.models import Content
from content.services import content_create
from decks import services
from decks.models import ImportJob
from decks.progress import progress_read
from review.models import ReviewHistory, ReviewSchedule
from review.services import review_counts_rebuild
from tests.helpers import ANKI_CREATED, AnkiCard, AnkiReview, anki2_package, run_in_threads, set_learner

pytestmark = pytest.mark.django_db


def job_for(user, upload: bytes, name: str = "deck.csv", **fields) -> ImportJob:
    return ImportJob.objects.create(owner=user, filename=name, format="csv", upload=upload, **fields)


ROWS = "front,back\n" + "".join(f"card {n},back {n}\n" for n in range(10))


def test_a_job_whose_file_turns_out_unreadable_fails_and_says_why_in_the_row_and_the_progress(make_user):
    user = make_user()
    job = job_for(user, b"PK\x03\x04 not really a zip", "deck.apkg")

    services.import_run(job_id=str(job.pk))

    job.refresh_from_db()
    assert job.state == ImportJob.FAILED and "zip" in job.message and "0 cards created" in job.message
    assert job.upload is None
    progress = progress_read(job_id=job.pk, owner_id=user.id)
    assert (progress["state"], progress["message"]) == ("failed", job.message)


def test_a_job_run_again_resumes_after_what_its_row_says_is_done(make_user):
    user = make_user()
    job = job_for(user, ROWS.encode(), state=ImportJob.RUNNING, attempts=1, processed=4, created=4, total=10)

    services.import_run(job_id=str(job.pk))

    job.refresh_from_db()
    assert (job.state, job.processed, job.created, job.attempts) == (ImportJob.SUCCEEDED, 10, 10, 2)
    # Only the six rows after the first four were written by this run.
    assert sorted(Content.objects.filter(owner=user).values_list("title", flat=True)) == [
        f"card {n}" for n in range(4, 10)
    ]


def test_a_finished_job_delivered_again_does_nothing(make_user):
    user = make_user()
    job = job_for(user, ROWS.encode())
    services.import_run(job_id=str(job.pk))
    services.import_run(job_id=str(job.pk))
    job.refresh_from_db()
    assert (job.state, job.created, job.attempts) == (ImportJob.SUCCEEDED, 10, 1)
    assert Content.objects.filter(owner=user).count() == 10


def test_a_job_that_killed_its_worker_too_often_is_failed_with_what_it_created(make_user):
    user = make_user()
    job = job_for(user, ROWS.encode(), state=ImportJob.RUNNING, attempts=services.MAX_ATTEMPTS, created=3)

    services.import_run(job_id=str(job.pk))

    job.refresh_from_db()
    assert job.state == ImportJob.FAILED
    assert job.message == f"The import was interrupted {services.MAX_ATTEMPTS} times; 3 cards created."
    assert not Content.objects.exists()


def test_imported_cards_get_schedules_due_today_and_one_bump_for_the_whole_job(
    make_user, bump_calls, django_capture_on_commit_callbacks
):
    user = make_user()
    job = job_for(user, ("front,back\n" + "".join(f"c{n},b\n" for n in range(120))).encode())

    with django_capture_on_commit_callbacks(execute=True):  # as the worker's own commits would
        services.import_run(job_id=str(job.pk))

    today = learner_day(user_id=user.pk).today  # the learner's day
    assert ReviewSchedule.objects.filter(owner=user, next_review_date=today).count() == 120
    assert bump_calls == [(user.id, ("content", "stats", "today"))]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_card_the_owner_makes_while_its_batch_is_checked_is_skipped_not_doubled(make_user):
    """The check for cards already there and the insert are apart; a card the owner creates in
    between (committed by another connection, in a thread) costs the batch one more try, nothing
    else. PostgreSQL: its row locks let the two transactions overlap as they would in production."""
    user = make_user()
    job = job_for(user, b"front,back\nser,to be\nestar,to be\n")
    real_check = services._not_yet_owned

    def check_then_race(owner_id, notes):
        fresh = real_check(owner_id, notes)
        if not Content.objects.filter(owner=user, title="ser").exists():
            assert not run_in_threads(1, lambda: content_create(owner_id=user.id, title="ser", body="to be"))
        return fresh

    with mock.patch.object(services, "_not_yet_owned", side_effect=check_then_race):
        services.import_run(job_id=str(job.pk))

    job.refresh_from_db()
    assert (job.state, job.created, job.skipped) == (ImportJob.SUCCEEDED, 1, 1)
    assert sorted(Content.objects.filter(owner=user).values_list("title", flat=True)) == ["estar", "ser"]


# --- History from Anki's review log -----------------------------------------------------------------

DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
AT = ANKI_CREATED + timedelta(days=3, hours=16)  # 20:00 UTC: 5:00 the next day in Tokyo


def anki_job(user, tmp_path, notes: int = 4, **fields) -> ImportJob:
    """Note n's card has n answers: again, then good, hard, easy in turn, a day apart (n minutes past
    AT), and on note
    2 a manual reschedule; the first two cards are in review, the others new."""
    cards = [AnkiCard(nid=n, type=2 if n <= 2 else 0, queue=2 if n <= 2 else 0, due=30, ivl=7) for n in range(1, 5)]
    log = [
        AnkiReview(cid=n, at=AT + i * DAY + n * MINUTE, ease=(1, 3, 2, 4)[i % 4], ms=1500 * (i + 1))
        for n in range(1, 5)
        for i in range(n)
    ]
    log.append(AnkiReview(cid=2, at=AT + 9 * DAY, ease=0, type=4, ms=0))
    package = anki2_package(tmp_path, {n: f"note {n}\x1fback" for n in range(1, notes + 1)}, cards, revlog=log)
    return job_for(user, package, "deck.apkg", total=notes, **fields)


def counts_and_days(user) -> tuple[list, list]:
    counts = ReviewSchedule.objects.filter(owner=user).order_by("content__title")
    days = DayTally.objects.filter(user=user).order_by("day")
    return (
        list(counts.values_list("content__title", "reviews", "remembered", "recalled", "lapses")),
        list(days.values_list("day", "reviews", "run_start")),
    )


def test_an_anki_import_gives_each_created_card_its_answers_with_grade_moment_and_seconds(make_user, tmp_path):
    assert_imported_history(make_user(), tmp_path)


@pytest.mark.integration
def test_on_postgresql_the_history_goes_in_by_copy_with_the_same_rows(make_user, tmp_path):
    from django.db import connection

    assert connection.vendor == "postgresql"
    assert_imported_history(make_user(), tmp_path)


def assert_imported_history(user, tmp_path) -> None:
    services.import_run(job_id=str(anki_job(user, tmp_path).pk))

    third = ReviewHistory.objects.filter(content__title="note 3").order_by("reviewed_at")
    assert list(third.values_list("result", "grade", "reviewed_at", "time_spent_seconds", "scheduler", "prior")) == [
        ("again", 1, AT + 3 * MINUTE, 2, "anki", None),  # 1.5 s rounds to 2
        ("good", 3, AT + DAY + 3 * MINUTE, 3, "anki", None),
        ("hard", 2, AT + 2 * DAY + 3 * MINUTE, 4, "anki", None),  # 4.5 s rounds to even
    ]
    assert ReviewSchedule.objects.get(content__title="note 3").last_review_at == AT + 2 * DAY + 3 * MINUTE
    job = ImportJob.objects.get()
    assert (job.state, job.created, job.reviews, job.reviews_skipped) == (ImportJob.SUCCEEDED, 4, 10, 1)
    assert (
        job.message == "Imported 4 cards, with 10 reviews of their history (1 manual reschedules left out), skipped 0."
    )


def test_imported_counts_and_day_tallies_are_what_a_recount_of_the_history_makes(make_user, tmp_path):
    user = make_user()
    set_learner(user, time_zone="Asia/Tokyo", day_starts_at_hour=4)
    services.import_run(job_id=str(anki_job(user, tmp_path).pk))

    imported = counts_and_days(user)
    assert imported[0] == [
        ("note 1", 1, 0, 0, 0),
        ("note 2", 2, 1, 1, 0),
        ("note 3", 3, 1, 2, 0),
        ("note 4", 4, 2, 3, 0),
    ]
    first = (AT + timedelta(hours=9)).date()  # the learner's day in Tokyo, which starts at 4:00
    assert imported[1] == [(first + i * DAY, 4 - i, first) for i in range(4)]
    review_counts_rebuild(user_id=user.id)
    assert counts_and_days(user) == imported


def test_an_again_after_the_first_answer_is_a_lapse(make_user, tmp_path):
    user = make_user()
    log = [AnkiReview(cid=1, at=AT + i * DAY, ease=ease) for i, ease in enumerate([1, 3, 1, 3, 1])]
    package = anki2_package(tmp_path, {1: "a\x1fb"}, [AnkiCard(nid=1)], revlog=log)
    services.import_run(job_id=str(job_for(user, package, "deck.apkg").pk))
    assert counts_and_days(user)[0] == [("a", 5, 2, 2, 2)]


def test_an_anki_job_resumed_gives_history_only_to_the_cards_it_creates_then(make_user, tmp_path):
    user = make_user()
    services.import_run(job_id=str(anki_job(user, tmp_path, notes=2).pk))  # notes 1 and 2 are there
    job = anki_job(user, tmp_path, state=ImportJob.RUNNING, attempts=1, processed=1, created=1, reviews=1)

    services.import_run(job_id=str(job.pk))

    job.refresh_from_db()
    assert (job.created, job.skipped, job.reviews) == (3, 1, 1 + 3 + 4)
    per_card = ReviewHistory.objects.filter(user=user).values_list("content__title", flat=True)
    assert sorted(per_card) == ["note 1"] + ["note 2"] * 2 + ["note 3"] * 3 + ["note 4"] * 4
    imported = counts_and_days(user)
    review_counts_rebuild(user_id=user.id)
    assert counts_and_days(user) == imported


def test_a_batch_tried_again_writes_its_answers_once(make_user, tmp_path):
    user = make_user()
    real = services._history_add
    tries = []

    def fail_once_after_writing(created):
        written = real(created)
        tries.append(written)
        if len(tries) == 1:
            raise IntegrityError("the owner made one of these cards meanwhile")
        return written

    with mock.patch.object(services, "_history_add", side_effect=fail_once_after_writing):
        services.import_run(job_id=str(anki_job(user, tmp_path).pk))

    assert tries == [10, 10]
    assert ReviewHistory.objects.filter(user=user).count() == 10 == ImportJob.objects.get().reviews


def test_a_job_that_stops_midway_still_counts_the_days_of_the_history_it_brought(make_user, tmp_path, monkeypatch):
    user = make_user()
    monkeypatch.setattr(services, "MIN_BATCH", 2)
    real = services._history_add

    def fail_second_batch(created):
        if ReviewHistory.objects.exists():
            raise RuntimeError("the database went away")
        return real(created)

    with mock.patch.object(services, "_history_add", side_effect=fail_second_batch):
        services.import_run(job_id=str(anki_job(user, tmp_path).pk))

    job = ImportJob.objects.get()
    assert (job.state, job.created, job.reviews) == (ImportJob.FAILED, 2, 3)
    assert sum(DayTally.objects.filter(user=user).values_list("reviews", flat=True)) == 3
