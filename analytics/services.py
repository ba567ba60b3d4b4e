"""Writes of the review tallies: one review counted as it is made (inside the completion's
transaction), and a recount from the history for rows that came another way."""

from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.db.models.functions import TruncDate
from django.utils import timezone

from analytics.models import CardTally, DayTally
from review.models import ReviewHistory
from utils.cache_utils.policy import CREATED, DELETED, invalidates

DAY = timedelta(days=1)


def tallies_count(*, user_id: int, content_id: int, day: date, remembered: bool) -> None:
    """Count one review of `content_id` made on `day`."""
    with invalidates(CardTally, owner_id=user_id, change=["reviews", "remembered"], reason="tally"):
        _count_card(user_id, content_id, remembered)
    with invalidates(DayTally, owner_id=user_id, change=[CREATED, "reviews", "run_start"], reason="tally"):
        _count_day(user_id, day)


def _count_card(user_id: int, content_id: int, remembered: bool) -> None:
    counts = {"reviews": F("reviews") + 1, "remembered": F("remembered") + int(remembered)}
    if CardTally.objects.filter(content_id=content_id).update(**counts):
        return
    try:
        with transaction.atomic():  # Note: a savepoint: a concurrent first count may insert the row first
            CardTally.objects.create(content_id=content_id, user_id=user_id, reviews=1, remembered=int(remembered))
    except IntegrityError:
        CardTally.objects.filter(content_id=content_id).update(**counts)


def _count_day(user_id: int, day: date) -> None:
    """Add one to the day; the first review of a day joins it to the runs of days before and after."""
    today = DayTally.objects.filter(user_id=user_id, day=day)
    if today.update(reviews=F("reviews") + 1):
        return
    # Note: the user's row lock serialises first reviews of a day (two tabs at midnight), so each
    # sees the run its neighbour day is in; it is taken once per user and day. NO KEY UPDATE: the
    # history rows these transactions inserted hold KEY SHARE locks on the user row, which FOR
    # UPDATE would wait for (a deadlock between two first reviews).
    list(get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))
    if today.update(reviews=F("reviews") + 1):
        return
    before = DayTally.objects.filter(user_id=user_id, day=day - DAY).values_list("run_start", flat=True).first()
    start = before or day
    DayTally.objects.create(user_id=user_id, day=day, reviews=1, run_start=start)
    DayTally.objects.filter(user_id=user_id, run_start=day + DAY).update(run_start=start)


def tallies_rebuild(*, user_id: int) -> None:
    """Recount the user's tallies from their history: after a bulk load of history, or a change of
    TIME_ZONE (`manage.py tallies_rebuild`). Days of cards deleted since are not in the history
    any more, so they leave the activity chart."""
    with (
        transaction.atomic(),
        invalidates(CardTally, owner_id=user_id, change=[DELETED, CREATED], reason="tally"),
        invalidates(DayTally, owner_id=user_id, change=[DELETED, CREATED], reason="tally"),
    ):
        recount(user_id=user_id, history=ReviewHistory, cards=CardTally, days=DayTally)


def recount(*, user_id: int, history, cards, days) -> None:
    """The recount, on the models given (the migration that creates the tallies passes its own)."""
    rows = history.objects.filter(user_id=user_id).order_by()
    per_card = rows.values("content_id").annotate(
        reviews=Count("id"), remembered=Count("id", filter=Q(result=ReviewHistory.REMEMBERED))
    )
    per_day = (
        rows.annotate(day=TruncDate("reviewed_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(reviews=Count("id"))
        .order_by("day")
    )
    cards.objects.filter(user_id=user_id).delete()
    days.objects.filter(user_id=user_id).delete()
    cards.objects.bulk_create([cards(user_id=user_id, **row) for row in per_card], batch_size=1000)
    tallies, start = [], None
    for row in per_day:
        if not tallies or tallies[-1].day != row["day"] - DAY:
            start = row["day"]
        tallies.append(days(user_id=user_id, run_start=start, **row))
    days.objects.bulk_create(tallies, batch_size=1000)
