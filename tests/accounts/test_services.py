"""A change of the learner's zone or hour re-derives their days, and a switch to FSRS replays their
history into their cards (accounts.services.learner_update): in the request for a short history,
by a job for a long one, which the account (and for the days the stats) name until it is done, and
which does its work once however often it runs."""

from datetime import UTC, date, timedelta

import fsrs
import pytest
from django.test import override_settings

from accounts import services
from accounts.selectors import learner_of
from analytics.models import DayTally
from resee import jobs
from review.scheduling import fsrs_scheduler, intervals
from tests.helpers import (
    NOW,
    assert_fresh,
    clock,  # noqa: F401  (autouse: freezes utils.clock.now at NOW, 15 May 2024)
    days,
    history_of,
    make_card,
    make_history,
    schedule_of,
    utc,
    warm,
)
from tests.servers import free_loopback_port
from utils.cache_utils.conf import STATS, TODAY

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


# --- A switch to FSRS -----------------------------------------------------------------------------


@pytest.fixture
def ladder_cards(alice) -> list:
    """Three cards answered on the ladder: one learned over weeks, one forgotten an hour ago (due
    again in minutes on FSRS), one never answered."""
    learned, forgotten, new = make_card(alice), make_card(alice), make_card(alice)
    for result, at in (("good", NOW - days(30)), ("hard", NOW - days(20)), ("good", NOW - days(6))):
        make_history(alice, learned, result, at=at)
    make_history(alice, forgotten, "again", at=NOW - timedelta(hours=1))
    return [learned, forgotten, new]


def replayed(alice, card) -> fsrs.Card:
    """The card as the package's `reschedule_card` has it after the card's history."""
    schedule = schedule_of(card)
    logs = [
        fsrs.ReviewLog(schedule.id, fsrs.Rating(row.grade), row.reviewed_at.astimezone(UTC), None)
        for row in history_of(alice)
        if row.content_id == card.id
    ]
    scheduler = fsrs_scheduler(learner=learner_of(user_id=alice.user.id))
    return scheduler.reschedule_card(fsrs.Card(card_id=schedule.id, due=logs[0].review_datetime), logs)


def fsrs_state(card) -> tuple:
    schedule = schedule_of(card)
    return (schedule.state, schedule.step, schedule.stability, schedule.difficulty, schedule.due_at)


def package_state(card: fsrs.Card) -> tuple:
    return (card.state.value, card.step, card.stability, card.difficulty, card.due)


def run_job(job_id: str, capture) -> None:
    with capture(execute=True):
        jobs.run(kind=jobs.FSRS_RESCHEDULE, job_id=job_id)


def test_a_switch_to_fsrs_with_a_short_history_replays_it_in_the_request(alice, ladder_cards, queued_jobs):
    with inline_up_to(4):
        body = alice.patch(ME, {"scheduler": "fsrs"}).json()

    assert (body["reschedule_job"], body["reschedule_progress"], queued_jobs) == (None, None, [])
    learned, forgotten, _ = ladder_cards
    assert [fsrs_state(card) for card in (learned, forgotten)] == [
        package_state(replayed(alice, card)) for card in (learned, forgotten)
    ]


def test_a_switch_to_fsrs_with_a_long_history_queues_a_replay_and_answers_at_once_with_its_id(
    alice, ladder_cards, queued_jobs
):
    with inline_up_to(3):
        body = alice.patch(ME, {"scheduler": "fsrs"}).json()

    [(kind, job_id)] = queued_jobs
    assert (kind, body["scheduler"], body["reschedule_job"]) == (jobs.FSRS_RESCHEDULE, "fsrs", job_id)
    assert alice.get(ME).json()["reschedule_progress"] == {"done": 0, "total": 0}
    assert {schedule_of(card).stability for card in ladder_cards} == {None}  # not replayed yet


def test_the_replay_job_replays_each_card_as_reschedule_card_does_and_its_progress_reaches_done(
    alice, ladder_cards, queued_jobs, monkeypatch, django_capture_on_commit_callbacks
):
    from review import services as review_services

    monkeypatch.setattr(review_services, "RESCHEDULE_BATCH", 1)
    seen, progress = [], services._reschedule_progress

    def polled(done: int, total: int, **job) -> None:
        progress(done, total, **job)
        seen.append(alice.get(ME).json()["reschedule_progress"])  # what a client polling reads

    monkeypatch.setattr(services, "_reschedule_progress", polled)
    with inline_up_to(0):
        alice.patch(ME, {"scheduler": "fsrs"})
    [(_, job_id)] = queued_jobs
    run_job(job_id, django_capture_on_commit_callbacks)

    assert seen == [{"done": done, "total": 2} for done in (0, 1, 2)]
    learned, forgotten, new = ladder_cards
    assert [fsrs_state(card) for card in (learned, forgotten)] == [
        package_state(replayed(alice, card)) for card in (learned, forgotten)
    ]
    assert schedule_of(new).stability is None  # never answered: FSRS's new card
    assert (alice.get(ME).json()["reschedule_job"], alice.get(ME).json()["reschedule_progress"]) == (None, None)


def test_a_replay_run_again_or_overtaken_by_a_switch_back_to_the_ladder_does_nothing(
    alice, ladder_cards, queued_jobs, bump_calls, django_capture_on_commit_callbacks
):
    learned = ladder_cards[0]
    ladder_date = schedule_of(learned).next_review_date
    with inline_up_to(0):
        alice.patch(ME, {"scheduler": "fsrs"})
        alice.patch(ME, {"scheduler": "ladder"})
    [(_, overtaken)] = queued_jobs

    bumps = len(bump_calls)
    run_job(overtaken, django_capture_on_commit_callbacks)
    assert (schedule_of(learned).stability, schedule_of(learned).next_review_date) == (None, ladder_date)
    assert len(bump_calls) == bumps

    with inline_up_to(0):
        alice.patch(ME, {"scheduler": "fsrs"})
    (_, current) = queued_jobs[-1]
    run_job(current, django_capture_on_commit_callbacks)
    done, bumps = fsrs_state(learned), len(bump_calls)
    run_job(current, django_capture_on_commit_callbacks)
    run_job(overtaken, django_capture_on_commit_callbacks)

    assert (fsrs_state(learned), len(bump_calls)) == (done, bumps)
    assert done == package_state(replayed(alice, learned))
    assert alice.get(ME).json()["reschedule_job"] is None


def test_the_replays_last_step_bumps_today_and_stats_and_the_cached_today_shows_fsrs_previews(
    alice, ladder_cards, queued_jobs, bump_calls, django_capture_on_commit_callbacks
):
    with inline_up_to(0):
        alice.patch(ME, {"scheduler": "fsrs"})
    [(_, job_id)] = queued_jobs
    before = {item["content_id"]: item["intervals"] for item in warm(alice, "today").json()["results"]}

    run_job(job_id, django_capture_on_commit_callbacks)

    assert {TODAY, STATS} <= set(bump_calls[-1][1])
    after = {item["content_id"]: item["intervals"] for item in assert_fresh(alice, "today").json()["results"]}
    learner = learner_of(user_id=alice.user.id)
    forgotten = ladder_cards[1]
    assert after[forgotten.id] == intervals(schedule_of(forgotten), learner=learner, now=NOW)
    assert after[forgotten.id] != before[forgotten.id]  # a new card's steps before, its own after


def test_with_the_queue_down_a_long_history_is_replayed_in_the_request(alice, ladder_cards):
    broker = f"amqp://guest:guest@127.0.0.1:{free_loopback_port()}//"
    with inline_up_to(0), override_settings(JOBS_IN_PROCESS=False, CELERY_BROKER_URL=broker):
        assert alice.patch(ME, {"scheduler": "fsrs"}).status_code == 200

    assert alice.get(ME).json()["reschedule_job"] is None
    learned = ladder_cards[0]
    assert fsrs_state(learned) == package_state(replayed(alice, learned))
