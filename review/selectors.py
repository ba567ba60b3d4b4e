"""Reads of schedules and history; `today_reviews_for` builds the payload of the hot endpoint."""

import functools
from datetime import date, timedelta

from django.db.models import Count, F, Max, Q, QuerySet
from django.shortcuts import get_object_or_404

from review.models import ReviewHistory, ReviewSchedule
from utils import clock
from utils.cache_utils import TODAY
from utils.cache_utils.reads import CachedRead, Derivation
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
    schedules = ReviewSchedule.objects.select_related("content")
    if for_update:
        schedules = schedules.select_for_update(of=("self",))  # the card's own row stays free for edits
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


def today_read(*, user_id: int, category_slug: str | None = None) -> CachedRead:
    """The cached today list: what its entry is keyed by, and how it is computed on a miss. A
    category's list is taken out of the user's one unfiltered list while that holds every due
    card (not cut at TODAY_MAX_RESULTS): one entry, and one miss per write, for all filters."""
    today = clock.local_today()

    def read(slug: str | None, derived_from: Derivation | None = None) -> CachedRead:
        compute = lambda: today_reviews_for(user_id=user_id, today=today, category_slug=slug)  # noqa: E731
        return CachedRead(user_id, TODAY, {"category_slug": slug, "date": today}, compute, derived_from)

    if not category_slug:
        return read(None)
    return read(category_slug, Derivation(read(None), functools.partial(_in_category, category_slug)))


def _in_category(slug: str, today: dict) -> dict | None:
    """The today list of one category, out of the unfiltered one; None if that one was cut."""
    if len(today["results"]) < today["count"]:
        return None
    results = [row for row in today["results"] if row["category_slug"] == slug]
    return {"results": results, "count": len(results), "total_count": today["total_count"]}


def recently_active_user_ids(*, days: int, limit: int) -> list[int]:
    """Users with a review in the last `days` days, most recently active first (the warm-up's)."""
    since = clock.now() - timedelta(days=days)
    return list(
        ReviewHistory.objects.filter(reviewed_at__gte=since, user__is_active=True)
        .values("user_id")
        .annotate(last_review=Max("reviewed_at"))
        .order_by("-last_review", "user_id")
        .values_list("user_id", flat=True)[:limit]
    )
