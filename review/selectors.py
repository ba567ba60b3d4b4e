"""Reads of schedules and history; `today_reviews_for` builds the payload of the hot endpoint."""

from datetime import date

from django.db.models import Count, F, Q, QuerySet
from django.shortcuts import get_object_or_404

from review.models import ReviewHistory, ReviewSchedule
from utils.conf import resee_setting

TODAY_FIELDS = (
    "id",
    "content_id",
    "title",
    "category_slug",
    "category_name",
    "interval_step",
    "next_review_date",
    "initial_review_completed",
)


def schedule_get_for(*, user_id: int, content_id: int, for_update: bool = False) -> ReviewSchedule:
    schedules = ReviewSchedule.objects.select_for_update() if for_update else ReviewSchedule.objects
    return get_object_or_404(schedules, content_id=content_id, owner_id=user_id)


def schedule_by_id_for(*, user_id: int, schedule_id: int) -> ReviewSchedule:
    return get_object_or_404(ReviewSchedule.objects.select_related("content"), pk=schedule_id, owner_id=user_id)


def schedule_list_for(*, user_id: int) -> QuerySet[ReviewSchedule]:
    return ReviewSchedule.objects.filter(owner_id=user_id).select_related("content").order_by("next_review_date", "id")


def history_list_for(*, user_id: int) -> QuerySet[ReviewHistory]:
    return ReviewHistory.objects.filter(user_id=user_id).select_related("content")


def today_reviews_for(*, user_id: int, today: date, category_slug: str | None = None) -> dict:
    """Active cards due on or before `today` (overdue ones stay due), oldest-due first."""
    active = ReviewSchedule.objects.filter(owner_id=user_id, is_active=True)
    due_filter = Q(next_review_date__lte=today)
    if category_slug:
        due_filter &= Q(content__category__slug=category_slug)
    counts = active.aggregate(total=Count("id"), due=Count("id", filter=due_filter))
    rows = (
        active.filter(due_filter)
        .order_by("next_review_date", "id")
        .annotate(
            title=F("content__title"),
            category_slug=F("content__category__slug"),
            category_name=F("content__category__name"),
        )
        .values(*TODAY_FIELDS)[: resee_setting("TODAY_MAX_RESULTS")]
    )
    results = [{**row, "next_review_date": row["next_review_date"].isoformat()} for row in rows]
    return {"results": results, "count": counts["due"], "total_count": counts["total"]}
