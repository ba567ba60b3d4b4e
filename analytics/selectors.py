"""A user's stats, read from the review counts: each card's (on its schedule) and a row per day of
the last 30 (analytics.models), never a row per review, so a miss costs the same at 1,000 reviews
and at 50,000: two queries."""

import functools
from datetime import date, timedelta

from django.db.models import Count, Q, Sum

from accounts.selectors import LearnerDay, learner_day
from analytics.models import DayTally
from content.models import Content
from utils.cache_utils import STATS
from utils.cache_utils.reads import CachedRead

HISTORY_DAYS = 30


def _success_rate(remembered: int, total: int) -> float | None:
    """Share of reviews answered `remembered`, in percent; None when there is nothing to rate."""
    return round(100 * remembered / total, 1) if total else None


def _streak(runs: dict[date, date], today: date) -> int:
    """Consecutive days with at least one review, ending today, or yesterday if today has none
    yet (the streak is not broken until the day is over). `runs`: day -> first day of its run."""
    for end in (today, today - timedelta(days=1)):
        if end in runs:
            return (end - runs[end]).days + 1
    return 0


def current_streak(*, user_id: int, today: date) -> int:
    runs = DayTally.objects.filter(user_id=user_id, day__range=(today - timedelta(days=1), today))
    return _streak(dict(runs.values_list("day", "run_start")), today)


def reviews_counted(*, user_id: int) -> int:
    """All the user's reviews, as the day tallies count them (a row a day, not a row a review)."""
    return DayTally.objects.filter(user_id=user_id).aggregate(total=Sum("reviews"))["total"] or 0


def _per_category(user_id: int, today: date) -> list[dict]:
    """Cards, reviews and the remembered among them, per category of the cards the user has; and
    the active cards due (overdue ones included), overdue and never reviewed."""
    active = Q(schedule__is_active=True)
    rows = (
        Content.objects.filter(owner_id=user_id)
        .values("category_id", "category__slug", "category__name")
        .annotate(
            cards=Count("id"),
            reviews=Sum("schedule__reviews"),
            remembered=Sum("schedule__remembered"),
            due=Count("id", filter=active & Q(schedule__next_review_date__lte=today)),
            overdue=Count("id", filter=active & Q(schedule__next_review_date__lt=today)),
            new=Count("id", filter=active & Q(schedule__initial_review_completed=False)),
        )
        .order_by("category__name", "category_id")
    )
    return [{**row, "reviews": row["reviews"] or 0, "remembered": row["remembered"] or 0} for row in rows]


def _summary(
    categories: list[dict], *, recent_reviews: int, today_reviews: int, success_rate: float | None, streak: int
) -> dict:
    """What a home screen shows, in one part of the answer."""
    return {
        "due": sum(row["due"] for row in categories),
        "overdue": sum(row["overdue"] for row in categories),
        "new": sum(row["new"] for row in categories),
        "reviews_today": today_reviews,
        "reviews_last_30_days": recent_reviews,
        "success_rate": success_rate,
        "current_streak_days": streak,
    }


def stats_for(*, user_id: int, today: date) -> dict:
    categories = _per_category(user_id, today)
    reviews = sum(row["reviews"] for row in categories)
    remembered = sum(row["remembered"] for row in categories)
    first_day = today - timedelta(days=HISTORY_DAYS - 1)
    days = DayTally.objects.filter(user_id=user_id, day__range=(first_day, today))
    recent = list(days.values_list("day", "reviews", "run_start"))
    by_day = {day: reviews for day, reviews, _ in recent}
    success_rate = _success_rate(remembered, reviews)
    streak = _streak({day: start for day, _, start in recent}, today)
    return {
        "summary": _summary(
            categories,
            recent_reviews=sum(by_day.values()),
            today_reviews=by_day.get(today, 0),
            success_rate=success_rate,
            streak=streak,
        ),
        "total_contents": sum(row["cards"] for row in categories),
        "total_reviews": reviews,
        "reviews_today": by_day.get(today, 0),
        "success_rate": success_rate,
        "success_rate_by_category": [
            {
                "category_id": row["category_id"],
                "slug": row["category__slug"],
                "name": row["category__name"],
                "reviews": row["reviews"],
                "success_rate": _success_rate(row["remembered"], row["reviews"]),
            }
            for row in categories
            if row["reviews"]
        ],
        "current_streak_days": streak,
        "reviews_per_day": [
            {
                "date": (first_day + timedelta(days=i)).isoformat(),
                "reviews": by_day.get(first_day + timedelta(days=i), 0),
            }
            for i in range(HISTORY_DAYS)
        ],
    }


def _stats_of(day: LearnerDay) -> dict:
    # Note: while a job recounts the learner's past reviews into the days of a new zone or hour,
    # the days shown are the old ones, and the answer says so.
    stats = stats_for(user_id=day.learner.user_id, today=day.today)
    return {**stats, "days_recounting": day.learner.days_recount_job is not None}


def stats_read(*, user_id: int) -> CachedRead:
    """The cached stats, in the learner's day: the entry ends with it (`until`)."""
    day = functools.cache(functools.partial(learner_day, user_id=user_id))  # asked on a miss only
    return CachedRead(
        user_id=user_id,
        namespace=STATS,
        params={},
        compute=lambda: _stats_of(day()),
        until=lambda: day().ends_at,
    )
