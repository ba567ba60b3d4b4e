"""Review writes: schedule creation, completing a review, pausing a card. Each says what it changes
(utils.cache_utils.policy: the answers it makes stale follow from the table)."""

from datetime import date, datetime, timedelta

from django.db import transaction
from rest_framework.exceptions import ValidationError

from analytics.services import tallies_count
from content.models import Content
from review.models import ReviewHistory, ReviewSchedule
from review.selectors import schedule_get_for
from utils import clock
from utils.cache_utils.policy import CREATED, invalidates
from utils.conf import review_intervals


def schedule_create_for(*, content: Content, today: date | None = None) -> ReviewSchedule:
    """New content is due at once: its first review is today."""
    with invalidates(ReviewSchedule, owner_id=content.owner_id, change=[CREATED], reason="schedule"):
        return ReviewSchedule.objects.create(
            owner_id=content.owner_id, content=content, next_review_date=today or clock.local_today()
        )


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
        schedule.next_review_date = clock.local_date(now) + timedelta(days=review_intervals()[step])
        schedule.initial_review_completed = True
        moved = ["interval_step", "next_review_date", "initial_review_completed", "updated_at"]
        with invalidates(ReviewSchedule, owner_id=user_id, change=moved, reason="schedule"):
            schedule.save(update_fields=moved)
        history_record(
            user_id=user_id,
            content_id=content_id,
            result=result,
            time_spent_seconds=time_spent_seconds,
            reviewed_at=now,
        )
    return schedule


def history_record(
    *, user_id: int, content_id: int, result: str, time_spent_seconds: int | None, reviewed_at: datetime
) -> ReviewHistory:
    """One review into the history and the tallies the stats read, in the caller's transaction."""
    with transaction.atomic():
        with invalidates(ReviewHistory, owner_id=user_id, change=[CREATED], reason="history"):
            review = ReviewHistory.objects.create(
                user_id=user_id,
                content_id=content_id,
                result=result,
                time_spent_seconds=time_spent_seconds,
                reviewed_at=reviewed_at,
            )
        tallies_count(
            user_id=user_id,
            content_id=content_id,
            day=clock.local_date(reviewed_at),
            remembered=result == ReviewHistory.REMEMBERED,
        )
    return review


def schedule_set_active(*, schedule: ReviewSchedule, is_active: bool) -> ReviewSchedule:
    """Pause or resume a card. A paused card is never due; a resumed overdue card is due again."""
    schedule.is_active = is_active
    with invalidates(ReviewSchedule, owner_id=schedule.owner_id, change=["is_active", "updated_at"], reason="schedule"):
        schedule.save(update_fields=["is_active", "updated_at"])
    return schedule
