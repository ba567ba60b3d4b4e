"""Aggregates over a user's review history, in settings.TIME_ZONE days."""

from datetime import date, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from content.models import Content
from review.models import ReviewHistory
from utils import clock
from utils.cache_utils import STATS
from utils.cache_utils.reads import CachedRead

HISTORY_DAYS = 30


def _success_rate(remembered: int, total: int) -> float | None:
    """Share of reviews answered `remembered`, in percent; None when there is nothing to rate."""
    return round(100 * remembered / total, 1) if total else None


def _reviews_by_day(user_id: int, since: date):
    return (
        ReviewHistory.objects.filter(user_id=user_id, reviewed_at__date__gte=since)
        .annotate(day=TruncDate("reviewed_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(reviews=Count("id"))
    )


def current_streak(*, user_id: int, today: date) -> int:
    """Consecutive days with at least one review, ending today, or yesterday if today has none
    yet (the streak is not broken until the day is over)."""
    days = (
        ReviewHistory.objects.filter(user_id=user_id)
        .annotate(day=TruncDate("reviewed_at", tzinfo=timezone.get_current_timezone()))
        .values_list("day", flat=True)
        .distinct()
        .order_by("-day")
    )
    streak, expected = 0, today
    for day in days.iterator():
        if day > today:
            continue
        if streak == 0 and day == today - timedelta(days=1):
            expected = day
        if day != expected:
            break
        streak, expected = streak + 1, day - timedelta(days=1)
    return streak


def _per_category(user_id: int) -> list[dict]:
    rows = (
        ReviewHistory.objects.filter(user_id=user_id)
        .values("content__category_id", "content__category__slug", "content__category__name")
        .annotate(reviews=Count("id"), remembered=Count("id", filter=Q(result=ReviewHistory.REMEMBERED)))
        .order_by("content__category__name", "content__category_id")
    )
    return [
        {
            "category_id": row["content__category_id"],
            "slug": row["content__category__slug"],
            "name": row["content__category__name"],
            "reviews": row["reviews"],
            "success_rate": _success_rate(row["remembered"], row["reviews"]),
        }
        for row in rows
    ]


def stats_for(*, user_id: int, today: date) -> dict:
    totals = ReviewHistory.objects.filter(user_id=user_id).aggregate(
        reviews=Count("id"),
        remembered=Count("id", filter=Q(result=ReviewHistory.REMEMBERED)),
    )
    first_day = today - timedelta(days=HISTORY_DAYS - 1)
    by_day = {row["day"]: row["reviews"] for row in _reviews_by_day(user_id, first_day)}
    return {
        "total_contents": Content.objects.filter(owner_id=user_id).count(),
        "total_reviews": totals["reviews"],
        "reviews_today": by_day.get(today, 0),
        "success_rate": _success_rate(totals["remembered"], totals["reviews"]),
        "success_rate_by_category": _per_category(user_id),
        "current_streak_days": current_streak(user_id=user_id, today=today),
        "reviews_per_day": [
            {
                "date": (first_day + timedelta(days=i)).isoformat(),
                "reviews": by_day.get(first_day + timedelta(days=i), 0),
            }
            for i in range(HISTORY_DAYS)
        ],
    }


def stats_read(*, user_id: int) -> CachedRead:
    """The cached stats: what the entry is keyed by (the day: "today" moves at midnight), and how
    it is computed on a miss."""
    today = clock.local_today()
    return CachedRead(
        user_id=user_id,
        namespace=STATS,
        params={"date": today},
        compute=lambda: stats_for(user_id=user_id, today=today),
    )
