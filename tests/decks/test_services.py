"""decks.services.import_run called as a worker calls it: a job that fails says why, a job run
again resumes where its last commit left it, and one that keeps killing its worker is given up."""

from unittest import mock

import pytest

from content.models import Content
from content.services import content_create
from decks import services
from decks.models import ImportJob
from decks.progress import progress_read
from review.models import ReviewSchedule
from tests.helpers import run_in_threads
from utils import clock

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

    assert ReviewSchedule.objects.filter(owner=user, next_review_date=clock.local_today()).count() == 120
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
