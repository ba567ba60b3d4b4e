"""Review writes: schedule creation, completing a review, pausing a card. Each says what it changes
(utils.cache_utils.policy: the answers it makes stale follow from the table)."""

from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from rest_framework.exceptions import ValidationError

from accounts.models import Learner
from accounts.selectors import learner_of, learner_today
from analytics.services import day_count, days_rebuild
from content.models import Content
from review.models import ReviewHistory, ReviewSchedule
from review.selectors import schedule_get_for
from utils import clock
from utils.cache_utils.policy import CREATED, invalidates
from utils.conf import review_intervals


def schedule_create_for(*, content: Content, today: date | None = None) -> ReviewSchedule:
    """New content is due at once: its first review is today."""
    with invalidates(ReviewSchedule, owner_id=content.owner_id, change=[CREATED], reason="schedule"):
        today = today or learner_today(user_id=content.owner_id)
        return ReviewSchedule.objects.create(owner_id=content.owner_id, content=content, next_review_date=today)


def next_step(*, schedule: ReviewSchedule, result: str) -> int:
    """remembered climbs one rung (the first review lands on rung 0), partial stays, forgot
    falls back to rung 0; the top rung is kept once reached."""
    if result == ReviewHistory.FORGOT or not schedule.initial_review_completed:
        return 0
    if result == ReviewHistory.PARTIAL:
        return schedule.interval_step
    return min(schedule.interval_step + 1, len(review_intervals()) - 1)


def review_complete(
    *, user_id: int, content_id: int, result: str, time_spent_seconds: int | None = None, now: datetime | None = None
) -> ReviewSchedule:
    now = now or clock.now()
    with transaction.atomic():
        # Note: the row lock serialises concurrent completions of one card, so each one moves the
        # schedule from the state the previous one left, and none is lost.
        schedule = schedule_get_for(user_id=user_id, content_id=content_id, for_update=True)
        if not schedule.is_active:
            raise ValidationError({"content_id": ["This card is paused; resume it before reviewing."]})
        step = min(next_step(schedule=schedule, result=result), len(review_intervals()) - 1)
        schedule.interval_step = step
        learner = learner_of(user_id=user_id)
        today = learner.day_of(now)
        schedule.next_review_date = today + timedelta(days=review_intervals()[step])
        schedule.initial_review_completed = True
        schedule.reviews += 1
        schedule.remembered += result == ReviewHistory.REMEMBERED
        moved = ["interval_step", "next_review_date", "initial_review_completed", "reviews", "remembered", "updated_at"]
        with invalidates(ReviewSchedule, owner_id=user_id, change=moved, reason="schedule"):
            schedule.save(update_fields=moved)
        _history_add(user_id, content_id, result, time_spent_seconds, now, learner=learner)
    return schedule


def history_record(
    *, user_id: int, content_id: int, result: str, time_spent_seconds: int | None, reviewed_at: datetime
) -> ReviewHistory:
    """A review made elsewhere (an import, a past review): counted like a completion's, leaving
    the card's place on the ladder alone."""
    with transaction.atomic():
        counts = {"reviews": F("reviews") + 1, "remembered": F("remembered") + int(result == ReviewHistory.REMEMBERED)}
        with invalidates(ReviewSchedule, owner_id=user_id, change=counts, reason="schedule"):
            ReviewSchedule.objects.filter(content_id=content_id, owner_id=user_id).update(**counts)
        return _history_add(user_id, content_id, result, time_spent_seconds, reviewed_at)


def _history_add(
    user_id: int,
    content_id: int,
    result: str,
    time_spent_seconds: int | None,
    at: datetime,
    learner: Learner | None = None,
):
    """The history row and the tally of the learner's day of one review (its card's counts are the
    caller's); `learner`: their settings, when the caller has them already."""
    with invalidates(ReviewHistory, owner_id=user_id, change=[CREATED], reason="history"):
        review = ReviewHistory.objects.create(
            user_id=user_id, content_id=content_id, result=result, time_spent_seconds=time_spent_seconds, reviewed_at=at
        )
    day_count(user_id=user_id, day=(learner or learner_of(user_id=user_id)).day_of(at))
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
    with invalidates(ReviewSchedule, owner_id=user_id, change=["reviews", "remembered"], reason="schedule"):
        ReviewSchedule.objects.filter(owner_id=user_id).update(**schedule_counts(ReviewHistory))


def schedule_counts(history) -> dict:
    """`update()` values setting each schedule's counts from the `history` model's rows of its card
    (the migration that adds the counts passes its own model)."""
    rows = history.objects.filter(content_id=OuterRef("content_id")).order_by().values("content_id")
    count = rows.annotate(n=Count("id")).values("n")
    remembered = rows.filter(result=ReviewHistory.REMEMBERED).annotate(n=Count("id")).values("n")
    return {"reviews": Coalesce(Subquery(count), 0), "remembered": Coalesce(Subquery(remembered), 0)}


def schedule_set_active(*, schedule: ReviewSchedule, is_active: bool) -> ReviewSchedule:
    """Pause or resume a card. A paused card is never due; a resumed overdue card is due again."""
    schedule.is_active = is_active
    with invalidates(ReviewSchedule, owner_id=schedule.owner_id, change=["is_active", "updated_at"], reason="schedule"):
        schedule.save(update_fields=["is_active", "updated_at"])
    return schedule
