"""Review writes: schedule creation, completing a review and undoing it, pausing a card. Each says
what it changes (utils.cache_utils.policy: the answers it makes stale follow from the table)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce, Least
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError

from accounts.models import Learner
from accounts.selectors import learner_of, learner_today
from analytics.services import day_count, day_uncount, days_rebuild
from content.models import Content
from review.models import Grade, ReviewHistory, ReviewSchedule, State
from review.scheduling import FSRS_NAME, card_apply, card_replayed, fsrs_answer, next_step
from review.selectors import schedule_get_for
from utils import clock
from utils.cache_utils.policy import CREATED, DELETED, invalidates
from utils.conf import review_intervals


def schedule_create_for(*, content: Content, today: date | None = None) -> ReviewSchedule:
    """New content is due at once: its first review is today."""
    with invalidates(ReviewSchedule, owner_id=content.owner_id, change=[CREATED], reason="schedule"):
        today = today or learner_today(user_id=content.owner_id)
        return ReviewSchedule.objects.create(owner_id=content.owner_id, content=content, next_review_date=today)


def ladder_answer(schedule: ReviewSchedule, *, result: str, today: date) -> None:
    """The ladder's move: the next rung's interval in days from the learner's `today`."""
    step = min(next_step(schedule=schedule, result=result), len(review_intervals()) - 1)
    schedule.interval_step = step
    schedule.next_review_date = today + timedelta(days=review_intervals()[step])
    schedule.state = State.REVIEW


def count_answer(schedule: ReviewSchedule, *, grade: int) -> None:
    """The card's counts of one more answer: a lapse is an again on a card already learned."""
    schedule.lapses += grade == Grade.AGAIN and schedule.initial_review_completed
    schedule.reviews += 1
    schedule.remembered += grade >= Grade.GOOD
    schedule.recalled += grade >= Grade.HARD
    schedule.initial_review_completed = True


def review_complete(
    *, user_id: int, content_id: int, result: str, time_spent_seconds: int | None = None, now: datetime | None = None
) -> ReviewSchedule:
    """One answer (`result`: a grade, or one of the three older words) to the card: its schedule
    moves as the learner's scheduler says, its counts and the day's tally grow, and the history
    keeps the row as it was before, for an undo."""
    now = now or clock.now()
    grade = ReviewHistory.GRADE_OF[result]
    with transaction.atomic():
        # Note: the row lock serialises concurrent completions of one card, so each one moves the
        # schedule from the state the previous one left, and none is lost.
        schedule = schedule_get_for(user_id=user_id, content_id=content_id, for_update=True)
        if not schedule.is_active:
            raise ValidationError({"content_id": ["This card is paused; resume it before reviewing."]})
        learner = learner_of(user_id=user_id)
        _replay_first(schedule, learner=learner)
        prior = schedule_snapshot(schedule)
        scheduler = _answer(schedule, result=result, now=now, learner=learner)
        count_answer(schedule, grade=grade)
        schedule.last_review_at = now
        moved = [*ReviewSchedule.SCHEDULING_FIELDS, "updated_at"]
        with invalidates(ReviewSchedule, owner_id=user_id, change=moved, reason="schedule"):
            schedule.save(update_fields=moved)
        review = ReviewHistory(
            user_id=user_id,
            content_id=content_id,
            result=result,
            time_spent_seconds=time_spent_seconds,
            reviewed_at=now,
            scheduler=scheduler,
            prior=prior,
        )
        _history_add(review, learner=learner)
    return schedule


def _replay_first(schedule: ReviewSchedule, *, learner: Learner) -> None:
    """While a switch's job replays the learner's history (`reschedule_job`), the card answered
    is replayed first, so the answer moves it from its FSRS state whether or not the job has come
    to it yet. Before the snapshot: an undo brings back the replayed card, not the ladder's."""
    if learner.reschedule_job is None:  # set only while an FSRS learner waits for it
        return
    rows = ReviewHistory.objects.filter(user_id=learner.user_id, content_id=schedule.content_id)
    history = list(rows.order_by("reviewed_at", "id").values_list("grade", "reviewed_at"))
    # Note: the job replays the card again later from the history this answer joins: the same
    # card, as a replay is the package's own answers one after the other.
    if history:
        card_apply(schedule, card_replayed(schedule, history, learner=learner), learner=learner)


def _answer(schedule: ReviewSchedule, *, result: str, now: datetime, learner: Learner) -> str:
    """The learner's scheduler's move of the card; answers its name, as the history records it."""
    if learner.scheduler == Learner.FSRS:
        fsrs_answer(schedule, grade=ReviewHistory.GRADE_OF[result], now=now, learner=learner)
        return FSRS_NAME
    ladder_answer(schedule, result=result, today=learner.day_of(now))
    return Learner.LADDER


def schedule_snapshot(schedule: ReviewSchedule) -> dict:
    """The schedule's scheduling fields as JSON (a history row's `prior`)."""
    return {name: _json_value(getattr(schedule, name)) for name in ReviewSchedule.SCHEDULING_FIELDS}


def _json_value(value):
    return value.isoformat() if isinstance(value, date | datetime) else value


# Note: how far an undo reaches back, as Anki's undo does: the learner's last answers (those
# undone count, they were made), within the last day.
UNDO_DEPTH = 20
UNDO_WINDOW = timedelta(hours=24)


class NothingToUndo(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        f"Nothing to undo: no answer of yours among your last {UNDO_DEPTH} answers within the last "
        f"{UNDO_WINDOW.total_seconds() / 3600:.0f} hours that is still to take back."
    )
    default_code = "nothing_to_undo"


@dataclass(frozen=True)
class Undone:
    schedule: ReviewSchedule  # as the undo restored it
    review: ReviewHistory  # the answer taken back (its row deleted, the instance kept)


def review_undo(*, user_id: int, now: datetime | None = None) -> Undone:
    """Take back the learner's most recent answer: its card's schedule as it was before it (its
    history row's `prior`, counts and all), the row gone, the day's tally one less; a second undo
    takes back the answer before, up to UNDO_DEPTH answers back and within UNDO_WINDOW. A pause,
    an edit or an import since is not undone; a card paused since is restored all the same."""
    now = now or clock.now()
    with transaction.atomic():
        review, schedule = _last_answer_locked(user_id, since=now - UNDO_WINDOW)
        if review.undone_after >= UNDO_DEPTH:
            raise NothingToUndo()
        if ReviewHistory.objects.filter(content_id=review.content_id, id__gt=review.id).exists():
            # Note: a review imported after it counts on the card; putting `prior` back would drop it.
            raise NothingToUndo("Nothing to undo: this card has history recorded after your last answer to it.")
        schedule = _schedule_restore(schedule, prior=review.prior, now=now)
        _history_remove(review, since=now - UNDO_WINDOW)
        day_uncount(user_id=user_id, day=learner_of(user_id=user_id).day_of(review.reviewed_at))
    return Undone(schedule=schedule, review=review)


def _last_answer_locked(user_id: int, *, since: datetime) -> tuple[ReviewHistory, ReviewSchedule]:
    """The user's most recent answer since `since`, and its card's schedule, both locked: the card
    first, as a completion locks it, then the answer, once a read under the card's lock finds it
    still the most recent.
    # Note: read again because a concurrent undo may have taken it back, or a completion of
    # another card answered since, while this waited; each pass locks the card of the answer it
    # finds. The answer's own row is locked only once its card is held: a row locked on the way
    # would be one another undo, holding that card, waits to delete (a deadlock)."""
    answers = ReviewHistory.objects.filter(user_id=user_id, prior__isnull=False, reviewed_at__gte=since)
    answers = answers.select_related("content").order_by("-id")
    held: ReviewSchedule | None = None
    while True:
        review = answers.first()
        if review is None:
            raise NothingToUndo()
        if held is None or review.content_id != held.content_id:
            held = schedule_get_for(user_id=user_id, content_id=review.content_id, for_update=True)
            continue
        locked = answers.select_for_update(of=("self",)).filter(pk=review.pk).first()
        if locked is not None:
            return locked, held


def _schedule_restore(schedule: ReviewSchedule, *, prior: dict, now: datetime) -> ReviewSchedule:
    """The schedule's scheduling fields as `prior` keeps them, `updated_at` included.
    # Note: written with update(): save() would stamp `updated_at` with the moment of the undo."""
    fields = {
        name: ReviewSchedule._meta.get_field(name).to_python(prior[name])
        for name in ReviewSchedule.SCHEDULING_FIELDS
        if name in prior
    }
    fields.setdefault("updated_at", now)
    with invalidates(ReviewSchedule, owner_id=schedule.owner_id, change=fields, reason="schedule"):
        ReviewSchedule.objects.filter(pk=schedule.pk).update(**fields)
    for name, value in fields.items():
        setattr(schedule, name, value)
    return schedule


def _history_remove(review: ReviewHistory, *, since: datetime) -> None:
    """The answer's row deleted; the answer before it (since `since`: an older one is out of an
    undo's reach for good) keeps its place among the last answers."""
    before = ReviewHistory.objects.filter(
        user_id=review.user_id, prior__isnull=False, reviewed_at__gte=since, id__lt=review.id
    )
    with invalidates(ReviewHistory, owner_id=review.user_id, change=[DELETED, "undone_after"], reason="history"):
        depth = Least(F("undone_after") + review.undone_after + 1, UNDO_DEPTH)
        ReviewHistory.objects.filter(pk=before.order_by("-id").values_list("pk", flat=True).first()).update(
            undone_after=depth
        )
        ReviewHistory.objects.filter(pk=review.pk).delete()


def history_record(
    *, user_id: int, content_id: int, result: str, time_spent_seconds: int | None, reviewed_at: datetime
) -> ReviewHistory:
    """A review made elsewhere (an import, a past review): counted like a completion's, leaving
    the card's place on the ladder alone; an again is a lapse once the card has a review before
    it, as the recount from the history has it (schedule_counts)."""
    grade = ReviewHistory.GRADE_OF[result]
    with transaction.atomic():
        lapse = F("lapses") + Case(When(reviews__gt=0, then=1), default=0)
        counts = {
            "lapses": lapse if grade == Grade.AGAIN else F("lapses"),
            "reviews": F("reviews") + 1,
            "remembered": F("remembered") + int(grade >= Grade.GOOD),
            "recalled": F("recalled") + int(grade >= Grade.HARD),
        }
        with invalidates(ReviewSchedule, owner_id=user_id, change=counts, reason="schedule"):
            ReviewSchedule.objects.filter(content_id=content_id, owner_id=user_id).update(**counts)
        review = ReviewHistory(
            user_id=user_id,
            content_id=content_id,
            result=result,
            time_spent_seconds=time_spent_seconds,
            reviewed_at=reviewed_at,
        )
        return _history_add(review)


def _history_add(review: ReviewHistory, learner: Learner | None = None) -> ReviewHistory:
    """The history row and the tally of the learner's day of one review (its card's counts are the
    caller's); `learner`: their settings, when the caller has them already."""
    with invalidates(ReviewHistory, owner_id=review.user_id, change=[CREATED], reason="history"):
        review.save(force_insert=True)
    day_count(user_id=review.user_id, day=(learner or learner_of(user_id=review.user_id)).day_of(review.reviewed_at))
    return review


def review_counts_rebuild(*, user_id: int) -> None:
    """Recount what the history's rows are counted into, each card's counts and the user's days,
    from the history itself: after a bulk load of history, or a change of TIME_ZONE (`manage.py
    review_counts_rebuild`). Days of cards deleted since are not in the history any more, so they
    leave the activity chart."""
    with transaction.atomic():
        _schedule_counts_rebuild(user_id)
        days_rebuild(user_id=user_id)


def _schedule_counts_rebuild(user_id: int) -> None:
    counts = ["reviews", "remembered", "recalled", "lapses"]
    with invalidates(ReviewSchedule, owner_id=user_id, change=counts, reason="schedule"):
        ReviewSchedule.objects.filter(owner_id=user_id).update(**schedule_counts())


def schedule_counts(history=ReviewHistory) -> dict:
    """`update()` values setting each schedule's counts from the history rows of its card; a lapse
    is an again after the card's first review."""
    rows = history.objects.filter(content_id=OuterRef("content_id")).order_by().values("content_id")
    count = rows.annotate(n=Count("id")).values("n")
    remembered = rows.filter(grade__gte=Grade.GOOD).annotate(n=Count("id")).values("n")
    recalled = rows.filter(grade__gte=Grade.HARD).annotate(n=Count("id")).values("n")
    first = history.objects.filter(content_id=OuterRef(OuterRef("content_id"))).order_by("reviewed_at", "id")
    lapses = rows.filter(~Q(id=Subquery(first.values("id")[:1])), grade=Grade.AGAIN).annotate(n=Count("id"))
    return {
        "lapses": Coalesce(Subquery(lapses.values("n")), 0),
        "reviews": Coalesce(Subquery(count), 0),
        "remembered": Coalesce(Subquery(remembered), 0),
        "recalled": Coalesce(Subquery(recalled), 0),
    }


def schedule_set_active(*, schedule: ReviewSchedule, is_active: bool) -> ReviewSchedule:
    """Pause or resume a card. A paused card is never due; a resumed overdue card is due again."""
    schedule.is_active = is_active
    with invalidates(ReviewSchedule, owner_id=schedule.owner_id, change=["is_active", "updated_at"], reason="schedule"):
        schedule.save(update_fields=["is_active", "updated_at"])
    return schedule


RESCHEDULE_BATCH = 500  # cards per transaction of schedules_reschedule


def schedules_reschedule(
    *, user_id: int, job_id: str | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Each of the user's cards with history as FSRS would have it after that history (their
    scheduler's `reschedule_card`); cards never reviewed stay new. In batches of
    RESCHEDULE_BATCH cards, one transaction each; `progress(done, total)` before the first and
    after each. With `job_id` (a switch's job, accounts.services.learner_fsrs_reschedule) each
    batch locks the learner's row first and the replay stops once the learner no longer waits
    for that job (back on the ladder, or a later switch's job). Answers the number of cards
    rescheduled."""
    reviewed = ReviewHistory.objects.filter(user_id=user_id).values("content_id")
    ids = list(ReviewSchedule.objects.filter(owner_id=user_id, content_id__in=reviewed).values_list("id", flat=True))
    for start in range(0, len(ids), RESCHEDULE_BATCH):
        if progress is not None:
            progress(start, len(ids))
        if not _reschedule_batch(user_id, ids[start : start + RESCHEDULE_BATCH], job_id=job_id):
            return start
    if progress is not None:
        progress(len(ids), len(ids))
    return len(ids)


def _learner_for_batch(user_id: int, *, job_id: str | None) -> Learner | None:
    if job_id is None:
        return learner_of(user_id=user_id)
    # Note: locked, so a switch back to the ladder waits for this batch or this batch sees it; a
    # batch after it would put FSRS's dates on a ladder learner's cards.
    return Learner.objects.select_for_update().filter(user_id=user_id, reschedule_job=job_id).first()


def _reschedule_batch(user_id: int, ids: list[int], *, job_id: str | None) -> bool:
    """One batch replayed; False (nothing done) when the learner no longer waits for `job_id`."""
    with transaction.atomic():
        learner = _learner_for_batch(user_id, job_id=job_id)
        if learner is None:
            return False
        schedules = list(ReviewSchedule.objects.select_for_update().filter(pk__in=ids).order_by("id"))
        history: dict[int, list] = {schedule.content_id: [] for schedule in schedules}
        rows = ReviewHistory.objects.filter(user_id=user_id, content_id__in=history).order_by("reviewed_at", "id")
        for content_id, grade, reviewed_at in rows.values_list("content_id", "grade", "reviewed_at"):
            history[content_id].append((grade, reviewed_at))
        # Note: a card whose history went since it was listed (an undo) stays as it is.
        schedules = [schedule for schedule in schedules if history[schedule.content_id]]
        for schedule in schedules:
            card_apply(
                schedule, card_replayed(schedule, history[schedule.content_id], learner=learner), learner=learner
            )
        moved = ["state", "step", "stability", "difficulty", "due_at", "last_review_at", "next_review_date"]
        with invalidates(ReviewSchedule, owner_id=user_id, change=moved, reason="schedule"):
            ReviewSchedule.objects.bulk_update(schedules, moved)
    return True
