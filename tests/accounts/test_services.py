"""A change of the learner's zone or hour re-derives their days (accounts.services.learner_update):
in the request for a short history, by a job for a long one, which the account and the stats name
until it is done, and which does its work once however often it runs."""

from datetime import date

import pytest
from django.test import override_settings

from analytics.models import DayTally
from resee import jobs
from tests.helpers import (
    assert_fresh,
    clock,  # noqa: F401  (autouse: freezes utils.clock.now at NOW, 15 May 2024)
    make_card,
    make_history,
    utc,
    warm,
)
from tests.servers import free_loopback_port
from utils.cache_utils.conf import STATS

ME = "/api/auth/me/"
# 20:00 on 14 May in UTC (the server's zone, alice's); 05:00 on 15 May in Seoul, where it is today.
EVENING = utc(2024, 5, 14, 20, 0)
MAY_14, MAY_15 = date(2024, 5, 14), date(2024, 5, 15)


@pytest.fixture
def evening_review(alice) -> None:
    make_history(alice, make_card(alice), at=EVENING)


def inline_up_to(reviews: int):
    from django.conf import settings

    return override_settings(RESEE={**settings.RESEE, "RECOUNT_INLINE_MAX_REVIEWS": reviews})


def reviews_on(stats: dict) -> dict[date, int]:
    return {date.fromisoformat(row["date"]): row["reviews"] for row in stats["reviews_per_day"] if row["reviews"]}


def tallies(user) -> dict[date, int]:
    return dict(DayTally.objects.filter(user=user).values_list("day", "reviews"))


def test_a_change_of_zone_with_a_short_history_moves_its_days_in_the_request(alice, evening_review, queued_jobs):
    warm(alice, "stats")
    with inline_up_to(1):
        body = alice.patch(ME, {"time_zone": "Asia/Seoul"}).json()

    assert (body["days_recount_job"], queued_jobs) == (None, [])
    stats = assert_fresh(alice, "stats").json()
    assert (reviews_on(stats), stats["days_recounting"]) == ({MAY_15: 1}, False)


def test_a_change_of_zone_with_a_long_history_queues_a_recount_the_account_and_stats_name_until_it_is_done(
    alice, evening_review, queued_jobs, django_capture_on_commit_callbacks
):
    warm(alice, "stats")
    with inline_up_to(0):
        body = alice.patch(ME, {"time_zone": "Asia/Seoul"}).json()

    [(kind, job_id)] = queued_jobs
    assert (kind, body["days_recount_job"], alice.get(ME).json()["days_recount_job"]) == (
        jobs.DAYS_RECOUNT,
        job_id,
        job_id,
    )
    waiting = assert_fresh(alice, "stats").json()
    assert (reviews_on(waiting), waiting["days_recounting"]) == ({MAY_14: 1}, True)  # the old days, said so

    warm(alice, "stats")
    with django_capture_on_commit_callbacks(execute=True):
        jobs.run(kind=kind, job_id=job_id)

    done = assert_fresh(alice, "stats").json()  # bumped by the job
    assert (reviews_on(done), done["days_recounting"]) == ({MAY_15: 1}, False)
    assert alice.get(ME).json()["days_recount_job"] is None


def test_a_recount_run_again_or_overtaken_by_a_later_change_does_nothing(
    alice, evening_review, queued_jobs, bump_calls, django_capture_on_commit_callbacks
):
    with inline_up_to(0):
        alice.patch(ME, {"time_zone": "Asia/Seoul"})
        alice.patch(ME, {"time_zone": "Pacific/Kiritimati"})  # 10:00 on 15 May there
    (_, first), (_, second) = queued_jobs

    def run(job_id: str) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            jobs.run(kind=jobs.DAYS_RECOUNT, job_id=job_id)

    bumps = len(bump_calls)
    run(first)
    assert (tallies(alice.user), len(bump_calls)) == ({MAY_14: 1}, bumps)  # the learner waits for the second
    run(second)
    bumps = len(bump_calls)
    run(second)

    assert len(bump_calls) == bumps
    assert tallies(alice.user) == {MAY_15: 1}
    assert STATS in bump_calls[-1][1]
    assert alice.get(ME).json()["days_recount_job"] is None


def test_with_the_queue_down_a_long_history_is_recounted_in_the_request(alice, evening_review):
    broker = f"amqp://guest:guest@127.0.0.1:{free_loopback_port()}//"
    with inline_up_to(0), override_settings(JOBS_IN_PROCESS=False, CELERY_BROKER_URL=broker):
        assert alice.patch(ME, {"time_zone": "Asia/Seoul"}).status_code == 200

    assert alice.get(ME).json()["days_recount_job"] is None
    stats = assert_fresh(alice, "stats").json()
    assert (reviews_on(stats), stats["days_recounting"]) == ({MAY_15: 1}, False)
