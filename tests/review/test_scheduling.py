"""review.scheduling: an FSRS learner's answers move cards exactly as the `fsrs` package does,
each grade's preview is what its answer then does (fuzz included), the ladder's previews are its
rungs, and a switch to FSRS replays the history as the package's `reschedule_card` does."""

import random
from datetime import UTC, timedelta

import fsrs
import pytest
from django.conf import settings
from django.test import override_settings
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from accounts.selectors import learner_of
from resee import jobs
from review.models import Grade, State
from review.scheduling import (
    FSRS_NAME,
    fsrs_review,
    fsrs_scheduler,
    fuzzed_days,
    previews_change_at,
)
from review.selectors import today_shared_read
from tests.helpers import (
    HIT,
    MISS,
    NOW,
    TODAY,
    api_complete,
    days,
    fetch,
    history_of,
    make_card,
    schedule_of,
    set_learner,
    today_list,
    uncached,
    utc,
    warm,
)

GRADES = [grade.label for grade in Grade]
fuzz_on = override_settings(RESEE={**settings.RESEE, "FSRS_FUZZ": True})


def _package_card(schedule) -> fsrs.Card:
    return fsrs.Card(card_id=schedule.id, due=NOW)


def _answer(client, clock, card, grade: str, at):
    clock.now = at
    api_complete(client, card.id, grade)
    return schedule_of(card)


# --- Answers --------------------------------------------------------------------------------------

# Gaps between answers: within a learning step, within a day, and over days to months.
gaps = st.one_of(st.integers(0, 3600), st.integers(0, 3 * 86400), st.integers(0, 400 * 86400))


@hypothesis_settings(
    max_examples=30, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(answers=st.lists(st.tuples(st.sampled_from(GRADES), gaps), min_size=1, max_size=12))
def test_an_fsrs_learners_answers_move_the_card_as_the_fsrs_package_does(alice, clock, answers):
    set_learner(alice, scheduler="fsrs")
    card, moment = make_card(alice), NOW
    scheduler = fsrs.Scheduler(enable_fuzzing=False)  # the package's defaults are ours
    expected = _package_card(schedule_of(card))
    for grade, gap in answers:
        moment += timedelta(seconds=gap)
        schedule = _answer(alice, clock, card, grade, moment)
        expected, _ = scheduler.review_card(expected, fsrs.Rating(Grade[grade.upper()]), moment)

        assert (schedule.due_at, schedule.state) == (expected.due, expected.state.value)
        assert (schedule.step, schedule.stability, schedule.difficulty) == (
            expected.step,
            expected.stability,
            expected.difficulty,
        )
        assert schedule.next_review_date == learner_of(user_id=alice.user.id).day_of(expected.due)


def test_the_learners_desired_retention_is_the_schedulers_and_a_lower_one_waits_longer(alice, clock):
    set_learner(alice, scheduler="fsrs", desired_retention=0.8)
    card = make_card(alice)
    answers = [NOW, NOW + timedelta(minutes=10), NOW + days(4)]
    for at in answers:
        schedule = _answer(alice, clock, card, "good", at)

    def package_due(retention: float):
        scheduler, expected = fsrs.Scheduler(desired_retention=retention, enable_fuzzing=False), _package_card(schedule)
        for at in answers:
            expected, _ = scheduler.review_card(expected, fsrs.Rating.Good, at)
        return expected.due

    assert schedule.due_at == package_due(0.8) > package_due(0.9)


def test_an_fsrs_answer_records_the_package_and_its_version_and_leaves_the_ladders_rung(alice, clock):
    set_learner(alice, scheduler="fsrs")
    card = make_card(alice, step=3)

    for grade in ("good", "good", "easy"):
        _answer(alice, clock, card, grade, clock.now + days(2))

    assert {row.scheduler for row in history_of(alice)} == {FSRS_NAME} == {"fsrs 6.3.2"}
    assert schedule_of(card).interval_step == 3


def test_a_new_card_learns_in_minutes_then_graduates_to_days(alice, clock):
    set_learner(alice, scheduler="fsrs")
    card = make_card(alice)

    first = _answer(alice, clock, card, "good", NOW)
    second = _answer(alice, clock, card, "good", NOW + timedelta(minutes=10))

    assert (first.state, first.due_at, first.next_review_date) == (State.LEARNING, NOW + timedelta(minutes=10), TODAY)
    assert second.state == State.REVIEW and second.due_at - second.last_review_at >= days(1)


def test_a_ladder_card_without_history_starts_as_fsrss_new_card(alice, clock):
    card = make_card(alice, step=4, initial=True, due=TODAY)
    set_learner(alice, scheduler="fsrs")

    schedule = _answer(alice, clock, card, "again", NOW)

    assert (schedule.state, schedule.step, schedule.due_at) == (State.LEARNING, 0, NOW + timedelta(minutes=1))


# --- Previews -------------------------------------------------------------------------------------


def _learned(client, clock, card):
    """The card in review, answered over two months: long enough intervals to be fuzzed."""
    for grade, at in (("good", NOW), ("good", NOW + timedelta(minutes=10)), ("good", NOW + days(3))):
        _answer(client, clock, card, grade, at)
    return _answer(client, clock, card, "easy", NOW + days(20))


@pytest.mark.parametrize("grade", GRADES)
def test_each_grades_preview_is_what_the_answer_then_does_fuzz_included(alice, clock, grade):
    set_learner(alice, scheduler="fsrs")
    card = make_card(alice)
    with fuzz_on:
        learned = _learned(alice, clock, card)
        clock.now = learned.due_at + timedelta(hours=5)

        (item,) = [item for item in today_list(alice).json()["results"] if item["content_id"] == card.id]
        schedule = _answer(alice, clock, card, grade, clock.now)

    assert item["intervals"][grade] == (schedule.due_at - clock.now).total_seconds()


def test_fuzz_is_the_same_for_a_card_at_the_same_review_and_spreads_cards(alice, clock):
    set_learner(alice, scheduler="fsrs")
    learner = learner_of(user_id=alice.user.id)
    cards = [make_card(alice) for _ in range(12)]
    later = NOW + days(40)
    with fuzz_on:
        learned = [_learned(alice, clock, card) for card in cards]
        first = [fsrs_review(s, grade=Grade.GOOD, now=later, learner=learner).due for s in learned]
        again = [fsrs_review(s, grade=Grade.GOOD, now=later, learner=learner).due for s in learned]
    with override_settings(RESEE={**settings.RESEE, "FSRS_FUZZ": False}):
        unfuzzed = {fsrs_review(s, grade=Grade.GOOD, now=later, learner=learner).due for s in learned}

    assert first == again
    assert len(set(first)) > 1 and len(unfuzzed) == 1


@pytest.mark.parametrize("interval", [1, 2, 3, 5, 9, 25, 120, 36500])
@pytest.mark.parametrize("draw", [0.0, 0.31, 0.77, 0.999])
def test_the_fuzz_spreads_an_interval_as_the_packages_own_fuzz_does(monkeypatch, interval, draw):
    scheduler = fsrs.Scheduler(maximum_interval=36500)
    monkeypatch.setattr("fsrs.scheduler.random", lambda: draw)  # the package's draw, made ours

    expected = scheduler._get_fuzzed_interval(interval=timedelta(days=interval)).days

    assert fuzzed_days(interval, draw=draw, maximum=36500) == expected


def test_the_ladders_previews_are_the_days_of_the_rung_each_grade_leads_to(alice):
    make_card(alice, step=2, initial=True, due=TODAY)
    make_card(alice, due=TODAY)

    learned, new = (item["intervals"] for item in today_list(alice).json()["results"])

    assert learned == {"again": 86400, "hard": 7 * 86400, "good": 14 * 86400, "easy": 30 * 86400}
    assert new == {grade: 86400 for grade in GRADES}


def test_an_fsrs_new_cards_previews_are_its_learning_steps(alice):
    set_learner(alice, scheduler="fsrs")
    make_card(alice)

    (item,) = today_list(alice).json()["results"]

    assert item["intervals"]["again"] == 60 and item["intervals"]["hard"] == 330
    assert item["intervals"]["good"] == 600 and item["intervals"]["easy"] >= 86400


def test_previews_change_at_the_next_whole_day_since_an_fsrs_cards_last_review(alice, clock):
    set_learner(alice, scheduler="fsrs")
    reviewed, new = make_card(alice), make_card(alice)
    schedule = _answer(alice, clock, reviewed, "easy", utc(2024, 5, 13, 14, 0))
    learner = learner_of(user_id=alice.user.id)
    rows = [schedule, schedule_of(new)]

    assert previews_change_at(rows, learner=learner, now=NOW) == utc(2024, 5, 15, 14, 0)
    assert previews_change_at(rows, learner=learner, now=utc(2024, 5, 15, 14, 0)) == utc(2024, 5, 16, 14, 0)
    assert previews_change_at([schedule_of(new)], learner=learner, now=NOW) is None
    set_learner(alice, scheduler="ladder")
    assert previews_change_at(rows, learner=learner_of(user_id=alice.user.id), now=NOW) is None


def test_todays_entry_ends_when_a_preview_it_holds_changes(alice, clock):
    set_learner(alice, scheduler="fsrs")
    card = make_card(alice)
    _answer(alice, clock, card, "good", utc(2024, 5, 11, 14, 0))  # a learning step: due since then
    clock.now = NOW + days(1)  # 4 days and 22 hours after its last review
    read = today_shared_read(user_id=alice.user.id)

    read.compute()

    assert read.until() == utc(2024, 5, 16, 14, 0).timestamp()  # before the day ends (at 04:00)
    warm(alice, "today")
    clock.now = utc(2024, 5, 16, 13, 59)
    fetch(alice, "today", cache=HIT)
    clock.now = utc(2024, 5, 16, 14, 0)
    assert fetch(alice, "today", cache=MISS).json() == uncached(alice, "today").json()


def test_an_fsrs_entry_without_reviewed_cards_ends_with_the_day(alice, clock):
    set_learner(alice, scheduler="fsrs")
    make_card(alice)
    read = today_shared_read(user_id=alice.user.id)

    read.compute()

    assert read.until() == utc(2024, 5, 16, 4, 0).timestamp()
    warm(alice, "today")
    clock.now = utc(2024, 5, 16, 3, 59)
    fetch(alice, "today", cache=HIT)


# --- Switching --------------------------------------------------------------------------------------


def test_switching_to_fsrs_replays_each_cards_history_as_reschedule_card_does(alice, clock):
    cards = [make_card(alice) for _ in range(3)]
    answers = {0: [("good", 0), ("hard", 3), ("again", 9), ("easy", 12)], 1: [("again", 1), ("good", 1)], 2: []}
    for index, card in enumerate(cards):
        for grade, day in answers[index]:
            _answer(alice, clock, card, grade, NOW + days(day) + timedelta(hours=index))
    untouched = schedule_of(cards[2])
    clock.now = NOW + days(15)

    response = alice.patch("/api/auth/me/", {"scheduler": "fsrs"})

    assert response.status_code == 200, response.content
    scheduler = fsrs_scheduler(learner=learner_of(user_id=alice.user.id))
    for card in cards[:2]:
        schedule = schedule_of(card)
        logs = [
            fsrs.ReviewLog(schedule.id, fsrs.Rating(row.grade), row.reviewed_at.astimezone(UTC), None)
            for row in history_of(alice)
            if row.content_id == card.id
        ]
        expected = scheduler.reschedule_card(fsrs.Card(card_id=schedule.id, due=NOW), logs)
        assert (schedule.state, schedule.step, schedule.stability, schedule.difficulty) == (
            expected.state.value,
            expected.step,
            expected.stability,
            expected.difficulty,
        )
        assert (schedule.due_at, schedule.last_review_at) == (expected.due, expected.last_review)
    assert (schedule_of(cards[2]).state, schedule_of(cards[2]).next_review_date) == (
        State.NEW,
        untouched.next_review_date,
    )


def test_switching_back_to_the_ladder_keeps_the_dates_and_the_ladder_goes_on_from_its_rung(alice, clock):
    card = make_card(alice, step=2, initial=True)
    set_learner(alice, scheduler="fsrs")
    for grade, day in (("good", 0), ("good", 1), ("good", 5)):
        _answer(alice, clock, card, grade, NOW + days(day))
    dates = schedule_of(card).next_review_date

    alice.patch("/api/auth/me/", {"scheduler": "ladder"})
    kept = schedule_of(card)
    answered = _answer(alice, clock, card, "good", NOW + days(30))

    assert kept.next_review_date == dates
    assert (answered.interval_step, answered.next_review_date) == (3, (NOW + days(30)).date() + days(14))
    assert history_of(alice)[-1].scheduler == "ladder"


def test_an_answer_while_the_switchs_replay_is_pending_moves_the_card_from_its_replayed_state(
    alice, clock, queued_jobs, django_capture_on_commit_callbacks
):
    card = make_card(alice)
    for grade, day in (("good", 0), ("hard", 4), ("good", 9)):
        _answer(alice, clock, card, grade, NOW + days(day))
    with override_settings(RESEE={**settings.RESEE, "RECOUNT_INLINE_MAX_REVIEWS": 0}):
        alice.patch("/api/auth/me/", {"scheduler": "fsrs"})
    [(kind, job_id)] = queued_jobs

    answered = _answer(alice, clock, card, "good", NOW + days(15))  # before the job comes to the card
    logs = [
        fsrs.ReviewLog(answered.id, fsrs.Rating(row.grade), row.reviewed_at.astimezone(UTC), None)
        for row in history_of(alice)
    ]
    expected = fsrs_scheduler(learner=learner_of(user_id=alice.user.id)).reschedule_card(_package_card(answered), logs)
    state = (answered.state, answered.step, answered.stability, answered.difficulty, answered.due_at)
    assert state == (expected.state.value, expected.step, expected.stability, expected.difficulty, expected.due)

    with django_capture_on_commit_callbacks(execute=True):
        jobs.run(kind=kind, job_id=job_id)
    replayed = schedule_of(card)
    assert (replayed.state, replayed.step, replayed.stability, replayed.difficulty, replayed.due_at) == state


def test_rescheduling_works_in_batches_and_reports_its_progress(alice, clock, monkeypatch):
    from review import services

    cards = [make_card(alice) for _ in range(5)]
    for card in cards:
        _answer(alice, clock, card, "good", NOW)
    monkeypatch.setattr(services, "RESCHEDULE_BATCH", 2)
    set_learner(alice, scheduler="fsrs")
    seen = []

    assert services.schedules_reschedule(user_id=alice.user.id, progress=lambda *p: seen.append(p)) == 5
    assert seen == [(0, 5), (2, 5), (4, 5), (5, 5)]
    assert {schedule_of(card).state for card in cards} == {State.LEARNING}


def test_a_replay_fuzzes_the_last_interval_as_that_answer_would_have_so_cards_spread(alice, clock):
    cards = [make_card(alice) for _ in range(12)]
    moments = [NOW, NOW + timedelta(minutes=10), NOW + days(3), NOW + days(20)]
    for at in moments:
        for card in cards:
            _answer(alice, clock, card, "good", at)

    with fuzz_on:
        set_learner(alice, scheduler="fsrs")
    schedules = [schedule_of(card) for card in cards]

    first = schedules[0]
    logs = [fsrs.ReviewLog(first.id, fsrs.Rating.Good, at, None) for at in moments]
    unfuzzed = fsrs.Scheduler(enable_fuzzing=False).reschedule_card(fsrs.Card(card_id=first.id, due=NOW), logs)
    interval = (unfuzzed.due - unfuzzed.last_review).days
    draw = random.Random(f"{first.id}:{len(moments) - 1}").random()
    assert first.due_at == unfuzzed.last_review + days(fuzzed_days(interval, draw=draw, maximum=36500))
    assert len({schedule.due_at for schedule in schedules}) > 1
