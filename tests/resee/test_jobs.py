"""The one job mechanism (resee.jobs) with jobs in a thread of this process (the embedded default
of `make run`): a kind names its service, and a learner's recount or replay runs there as an import does
(tests/decks/test_imports_api.py). The thread has its own database connection, so these tests
commit (transactional_db); the Celery worker's own tests are in test_tasks.py."""

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils.module_loading import import_string

from resee import jobs
from review.models import State
from tests.helpers import (
    clock,  # noqa: F401  (autouse: freezes utils.clock.now at NOW, 15 May 2024)
    fetch,
    make_card,
    make_history,
    uncached,
    utc,
    wait_for_recount,
    wait_for_replay,
    warm,
)

pytestmark = pytest.mark.django_db(transaction=True)

ME = "/api/auth/me/"


def test_every_kind_names_a_service_and_an_unknown_kind_is_refused_before_anything_is_queued():
    assert {jobs.DECK_IMPORT, jobs.DAYS_RECOUNT, jobs.FSRS_RESCHEDULE} <= set(jobs.KINDS)
    assert all(callable(import_string(service)) for service in jobs.KINDS.values())
    with pytest.raises(ValueError, match="no-such-kind"):
        jobs.enqueue(kind="no-such-kind", job_id="1")


def test_a_learners_recount_runs_in_a_thread_and_the_stats_then_show_the_new_days(alice):
    make_history(alice, make_card(alice), at=utc(2024, 5, 14, 20, 0))  # 05:00 on 15 May in Seoul
    warm(alice, "stats")
    resee = {**settings.RESEE, "RECOUNT_INLINE_MAX_REVIEWS": 0}
    with override_settings(JOBS_IN_PROCESS=True, RESEE=resee):
        assert alice.patch(ME, {"time_zone": "Asia/Seoul"}).json()["days_recount_job"] is not None
        wait_for_recount(alice)

    stats = fetch(alice, "stats").json()
    assert stats == uncached(alice, "stats").json()
    assert (stats["reviews_per_day"][-1], stats["days_recounting"]) == ({"date": "2024-05-15", "reviews": 1}, False)


def test_a_switch_to_fsrs_replays_in_a_thread_and_today_then_shows_the_fsrs_card(alice):
    card = make_card(alice)
    make_history(alice, card, "again", at=utc(2024, 5, 15, 11, 0))  # an hour ago: due again in minutes
    warm(alice, "today")
    resee = {**settings.RESEE, "RECOUNT_INLINE_MAX_REVIEWS": 0}
    with override_settings(JOBS_IN_PROCESS=True, RESEE=resee):
        assert alice.patch(ME, {"scheduler": "fsrs"}).json()["reschedule_job"] is not None
        assert wait_for_replay(alice)["reschedule_progress"] is None

    today = fetch(alice, "today").json()
    assert today == uncached(alice, "today").json()
    assert [item["state"] for item in today["results"]] == [State.LEARNING.label]


FLAKY = "tests.resee.test_jobs.flaky_service"
calls: list[str] = []


def flaky_service(*, job_id: str) -> None:
    """A job's service whose first two runs meet a database error (a lock, a restart)."""
    calls.append(job_id)
    if len(calls) <= 2:
        raise jobs.RETRY_ON[0]("database table is locked")


@pytest.fixture
def flaky_kind(monkeypatch):
    calls.clear()
    monkeypatch.setitem(jobs.KINDS, "flaky", FLAKY)
    monkeypatch.setattr(jobs, "RETRY_FIRST_DELAY", 0.01)
    return "flaky"


def test_a_job_that_meets_a_database_error_is_tried_again_in_a_thread(flaky_kind):
    jobs._run_here(flaky_kind, "j1")
    assert calls == ["j1"] * 3


def test_a_job_that_meets_a_database_error_is_tried_again_by_celery(flaky_kind):
    from resee.tasks import run_job

    assert run_job.apply(args=[flaky_kind, "j2"]).successful()  # eager: each retry runs at once
    assert calls == ["j2"] * 3


def test_a_job_gives_up_after_its_tries_and_says_so(flaky_kind, monkeypatch, caplog):
    monkeypatch.setattr(jobs, "RETRIES", 1)
    jobs._run_here(flaky_kind, "j3")
    assert calls == ["j3"] * 2
    assert "flaky j3 failed after 2 tries" in caplog.text
