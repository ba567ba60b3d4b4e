"""The two schedulers a learner chooses between, and what each grade would do (the previews).

The ladder: fixed rungs of days (RESEE["REVIEW_INTERVAL_DAYS"]). FSRS: the `fsrs` package's
scheduler with the learner's desired retention, its learning and relearning steps and maximum
interval from the settings; the card's memory state lives in the schedule row's own columns.

# Note: the package's fuzz draws from the module-level `random`, so a preview and the answer after
# it would land on different days. FSRS here schedules unfuzzed and fuzzes the interval itself, by
# the package's formula (FUZZ_RANGES) with a draw seeded by the card and its number of reviews:
# the same card at the same review always gets the same fuzz, in a preview and in the answer.
"""

import functools
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version

import fsrs
from fsrs.scheduler import FUZZ_RANGES

from accounts.models import Learner
from review.models import Grade, ReviewHistory, ReviewSchedule, State
from utils.conf import fsrs_steps, resee_setting, review_intervals

FSRS_NAME = f"fsrs {version('fsrs')}"  # what a review's history row says scheduled it
DAY_SECONDS = 86400


# --- The ladder ---------------------------------------------------------------------------------


def next_step(*, schedule: ReviewSchedule, result: str) -> int:
    """The ladder: good climbs one rung and easy two (the first review lands on rung 0), hard
    stays, again falls back to rung 0; the top rung is kept once reached."""
    return _rung_after(schedule, ReviewHistory.GRADE_OF[result], top=len(review_intervals()) - 1)


def _rung_after(schedule: ReviewSchedule, grade: int, *, top: int) -> int:
    if grade == Grade.AGAIN or not schedule.initial_review_completed:
        return 0
    if grade == Grade.HARD:
        return schedule.interval_step
    climb = 2 if grade == Grade.EASY else 1
    return min(schedule.interval_step + climb, top)


def ladder_intervals(schedule: ReviewSchedule, *, ladder: list[int] | None = None) -> dict[str, int]:
    """Seconds each grade would bring the card back after: the days of the rung it leads to."""
    ladder = ladder or review_intervals()
    top = len(ladder) - 1
    return {grade.label: ladder[min(_rung_after(schedule, grade, top=top), top)] * DAY_SECONDS for grade in Grade}


# --- FSRS ---------------------------------------------------------------------------------------


def fsrs_scheduler(*, learner: Learner) -> fsrs.Scheduler:
    """The learner's FSRS scheduler: the package's default parameters, their retention."""
    return _scheduler(
        learner.desired_retention,
        tuple(fsrs_steps("FSRS_LEARNING_STEPS_MINUTES")),
        tuple(fsrs_steps("FSRS_RELEARNING_STEPS_MINUTES")),
        int(resee_setting("FSRS_MAXIMUM_INTERVAL_DAYS")),
    )


# Note: one per set of settings: a preview of today's list asks four answers of each card, and
# the package validates its parameters on every construction; a scheduler is never changed.
@functools.lru_cache(maxsize=128)
def _scheduler(retention: float, learning: tuple, relearning: tuple, maximum: int) -> fsrs.Scheduler:
    return fsrs.Scheduler(
        desired_retention=retention,
        learning_steps=[timedelta(minutes=m) for m in learning],
        relearning_steps=[timedelta(minutes=m) for m in relearning],
        maximum_interval=maximum,
        enable_fuzzing=False,  # Note: fuzzed here, deterministically (the module's docstring)
    )


def _utc(moment: datetime) -> datetime:
    # Note: the package accepts only `datetime.timezone.utc` itself; a database may hand back
    # another UTC tzinfo (ZoneInfo("UTC")), which compares unequal.
    return moment.astimezone(UTC)


def card_of(schedule: ReviewSchedule, *, now: datetime) -> fsrs.Card:
    """The schedule row as the package's card. A card FSRS has not scheduled yet (no stability:
    never reviewed, or only on the ladder with no history to replay) is FSRS's new card."""
    if schedule.stability is None:
        return fsrs.Card(card_id=schedule.id, state=fsrs.State.Learning, step=0, due=_utc(now))
    return fsrs.Card(
        card_id=schedule.id,  # Note: without an id the package makes one up and sleeps a millisecond
        state=fsrs.State(schedule.state),
        step=schedule.step,
        stability=schedule.stability,
        difficulty=schedule.difficulty,
        due=_utc(schedule.due_at or now),
        last_review=schedule.last_review_at and _utc(schedule.last_review_at),
    )


def card_apply(schedule: ReviewSchedule, card: fsrs.Card, *, learner: Learner) -> None:
    """The package's card back into the row; the card is due on the learner's day of its moment."""
    schedule.state = State(card.state.value)
    schedule.step = card.step
    schedule.stability, schedule.difficulty = card.stability, card.difficulty
    schedule.due_at, schedule.last_review_at = card.due, card.last_review
    schedule.next_review_date = learner.day_of(card.due)


def fuzzed_days(days: int, *, draw: float, maximum: int) -> int:
    """`days` moved within the package's fuzz range (fsrs.Scheduler._get_fuzzed_interval) by
    `draw` in [0, 1)."""
    if days < 2.5:
        return days
    delta = 1.0 + sum(r["factor"] * max(min(float(days), r["end"]) - r["start"], 0.0) for r in FUZZ_RANGES)
    high = min(round(days + delta), maximum)
    low = min(max(2, round(days - delta)), high)
    return min(round(draw * (high - low + 1) + low), maximum)


def fuzz_draw(schedule: ReviewSchedule, *, reviews: int | None = None) -> float:
    """The card's draw at its review after `reviews` others (by default, its next): one per card
    and number of reviews."""
    return random.Random(f"{schedule.id}:{schedule.reviews if reviews is None else reviews}").random()


def fsrs_review(schedule: ReviewSchedule, *, grade: int, now: datetime, learner: Learner) -> fsrs.Card:
    """The card as FSRS leaves it after `grade` at `now` (the row itself is left alone)."""
    return _reviewed(card_of(schedule, now=now), grade, now, fsrs_scheduler(learner=learner), _draw(schedule))


def _draw(schedule: ReviewSchedule) -> float | None:
    return fuzz_draw(schedule) if resee_setting("FSRS_FUZZ") else None


def _reviewed(card: fsrs.Card, grade: int, now: datetime, scheduler: fsrs.Scheduler, draw: float | None) -> fsrs.Card:
    card, _ = scheduler.review_card(card, fsrs.Rating(grade), _utc(now))
    return _fuzzed(card, scheduler, draw)


def _fuzzed(card: fsrs.Card, scheduler: fsrs.Scheduler, draw: float | None) -> fsrs.Card:
    """The card due after its last review's interval fuzzed, as the package fuzzes (a card in
    review only: learning steps are never fuzzed)."""
    if card.state == fsrs.State.Review and draw is not None:
        days = fuzzed_days((card.due - card.last_review).days, draw=draw, maximum=scheduler.maximum_interval)
        card.due = card.last_review + timedelta(days=days)
    return card


def fsrs_answer(schedule: ReviewSchedule, *, grade: int, now: datetime, learner: Learner) -> None:
    """FSRS's move: the card's state, step, memory and due moment, and the learner's day of it
    as `next_review_date`; `interval_step` (the ladder's) is left alone. Before the counts move:
    the fuzz is drawn by the number of reviews before this one."""
    card_apply(schedule, fsrs_review(schedule, grade=grade, now=now, learner=learner), learner=learner)


def card_replayed(schedule: ReviewSchedule, history: Iterable[tuple[int, datetime]], *, learner: Learner) -> fsrs.Card:
    """The card as FSRS would have it after the reviews of `history` ((grade, moment) pairs, one
    at least), as the package's `reschedule_card` replays them, its last interval fuzzed."""
    logs = [
        fsrs.ReviewLog(
            card_id=schedule.id, rating=fsrs.Rating(grade), review_datetime=_utc(moment), review_duration=None
        )
        for grade, moment in history
    ]
    scheduler = fsrs_scheduler(learner=learner)
    card = scheduler.reschedule_card(fsrs.Card(card_id=schedule.id, due=logs[0].review_datetime), logs)
    # Note: the last interval fuzzed as that review's answer would have been: cards the ladder
    # moved together would otherwise all come due on one day.
    draw = fuzz_draw(schedule, reviews=len(logs) - 1) if resee_setting("FSRS_FUZZ") else None
    return _fuzzed(card, scheduler, draw)


# --- Previews -----------------------------------------------------------------------------------


def intervals(schedule: ReviewSchedule, *, learner: Learner, now: datetime) -> dict[str, int]:
    """`{"again": s, "hard": s, "good": s, "easy": s}`: the seconds after `now` each grade would
    bring the card back, exactly as an answer at `now` would (same fuzz)."""
    return Previews(learner=learner, now=now).of(schedule)


def preview_changes_at(schedule: ReviewSchedule, *, learner: Learner, now: datetime) -> datetime | None:
    """The next moment the card's preview changes with the clock alone: FSRS reads the whole days
    since the last review, so the next anniversary of it; None on the ladder or for a new card."""
    last = schedule.last_review_at
    if learner.scheduler != Learner.FSRS or last is None or schedule.stability is None:
        return None
    return last + timedelta(days=max(0, (now - last).days) + 1)


def previews_change_at(rows: Iterable[ReviewSchedule], *, learner: Learner, now: datetime) -> datetime | None:
    """The first moment a preview of any of `rows` changes with the clock alone (None: never)."""
    moments = [preview_changes_at(row, learner=learner, now=now) for row in rows]
    return min((moment for moment in moments if moment is not None), default=None)


class Previews:
    """The previews (`intervals`) of one answer's cards at `now`, the settings read once, and
    (`changes_at`) when the first of them changes with the clock: an answer holding them lives
    no longer."""

    def __init__(self, *, learner: Learner, now: datetime):
        self.learner, self.now = learner, now
        self.changes_at: datetime | None = None
        self._fsrs = learner.scheduler == Learner.FSRS
        self._scheduler = fsrs_scheduler(learner=learner) if self._fsrs else None
        self._fuzz = bool(resee_setting("FSRS_FUZZ"))
        self._ladder = None if self._fsrs else review_intervals()

    def of(self, schedule: ReviewSchedule) -> dict[str, int]:
        if not self._fsrs:
            return ladder_intervals(schedule, ladder=self._ladder)
        moment = preview_changes_at(schedule, learner=self.learner, now=self.now)
        if moment is not None and (self.changes_at is None or moment < self.changes_at):
            self.changes_at = moment
        card, draw = card_of(schedule, now=self.now), fuzz_draw(schedule) if self._fuzz else None
        due = {grade.label: _reviewed(card, grade, self.now, self._scheduler, draw).due for grade in Grade}
        return {label: round((moment - self.now).total_seconds()) for label, moment in due.items()}
