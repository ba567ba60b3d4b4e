"""A user's stats, read from the review counts: each card's (on its schedule) and a row per day of
the last 30 (analytics.models), never a row per review, so a miss costs the same at 1,000 reviews
and at 50,000: two queries, and one for when the answer ends (review.selectors.today_ends_at)."""

import functools
from datetime import date, datetime, timedelta

from django.db.models import Count, Q, Sum

from accounts.selectors import LearnerDay, learner_day
from analytics.models import DayTally
from content.models import Content
from review.selectors import due_at_moment, today_ends_at
from utils import clock
from utils.cache_utils import STATS
from utils.cache_utils.reads import CachedRead
from utils.conf import leech_lapses

HISTORY_DAYS = 30
COUNTS = ("reviews", "remembered", "recalled")  # summed over the cards of each category


def _percent(part: int, total: int) -> float | None:
    """`part` of `total` reviews in percent, one decimal; None when there is nothing to rate. The
    success rate's part is the reviews answered good or easy; the retention's, those passed (hard,
    good or easy), as FSRS counts a recall."""
    return round(100 * part / total, 1) if total else None


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


def _per_category(user_id: int, today: date, now: datetime) -> list[dict]:
    """Cards, reviews and the remembered and recalled among them, and leeches, per category of the
    cards the user has; and the active cards due at `now` (overdue ones included; a card on its
    learning steps once its moment has passed, as today's list takes it), overdue and never reviewed."""
    active = Q(schedule__is_active=True)
    rows = (
        Content.objects.filter(owner_id=user_id)
        .values("category_id", "category__slug", "category__name")
        .annotate(
            cards=Count("id"),
            reviews=Sum("schedule__reviews"),
            remembered=Sum("schedule__remembered"),
            recalled=Sum("schedule__recalled"),
            leeches=Count("id", filter=Q(schedule__lapses__gte=leech_lapses())),
            due=Count("id", filter=active & due_at_moment(today=today, now=now, through="schedule__")),
            overdue=Count("id", filter=active & Q(schedule__next_review_date__lt=today)),
            new=Count("id", filter=active & Q(schedule__initial_review_completed=False)),
        )
        .order_by("category__name", "category_id")
    )
    return [{**row, **{name: row[name] or 0 for name in COUNTS}} for row in rows]


def _summary(categories: list[dict], *, recent_reviews: int, today_reviews: int, rates: dict, streak: int) -> dict:
    """What a home screen shows, in one part of the answer; `rates`: the success rate and retention."""
    return {
        "due": sum(row["due"] for row in categories),
        "overdue": sum(row["overdue"] for row in categories),
        "new": sum(row["new"] for row in categories),
        "reviews_today": today_reviews,
        "reviews_last_30_days": recent_reviews,
        **rates,
        "current_streak_days": streak,
        "leeches": sum(row["leeches"] for row in categories),
    }


def _rates(row: dict) -> dict:
    """The success rate and the retention of a row of counts (`reviews`, `remembered`, `recalled`)."""
    return {
        "success_rate": _percent(row["remembered"], row["reviews"]),
        "retention": _percent(row["recalled"], row["reviews"]),
    }


def stats_for(*, user_id: int, today: date, now: datetime | None = None) -> dict:
    """The stats at `now` (the clock's by default) on the learner's `today`."""
    categories = _per_category(user_id, today, now or clock.now())
    totals = {name: sum(row[name] for row in categories) for name in COUNTS}
    rates = _rates(totals)
    first_day = today - timedelta(days=HISTORY_DAYS - 1)
    days = DayTally.objects.filter(user_id=user_id, day__range=(first_day, today))
    recent = list(days.values_list("day", "reviews", "run_start"))
    by_day = {day: reviews for day, reviews, _ in recent}
    streak = _streak({day: start for day, _, start in recent}, today)
    return {
        "summary": _summary(
            categories,
            recent_reviews=sum(by_day.values()),
            today_reviews=by_day.get(today, 0),
            rates=rates,
            streak=streak,
        ),
        "total_contents": sum(row["cards"] for row in categories),
        "total_reviews": totals["reviews"],
        "reviews_today": by_day.get(today, 0),
        **rates,
        "success_rate_by_category": [
            {
                "category_id": row["category_id"],
                "slug": row["category__slug"],
                "name": row["category__name"],
                "reviews": row["reviews"],
                **_rates(row),
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
    stats = stats_for(user_id=day.learner.user_id, today=day.today, now=day.now)
    return {**stats, "days_recounting": day.learner.days_recount_job is not None}


def stats_read(*, user_id: int) -> CachedRead:
    """The cached stats, in the learner's day: the entry ends with it, or when a card on its
    learning steps comes due before (`until`: the summary's `due` counts it from then)."""
    day = functools.cache(functools.partial(learner_day, user_id=user_id))  # asked on a miss only
    return CachedRead(
        user_id=user_id,
        namespace=STATS,
        params={},
        compute=lambda: _stats_of(day()),
        until=functools.partial(today_ends_at, user_id=user_id, day=day),
    )
