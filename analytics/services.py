"""Writes of the day tallies: one review counted as it is made (inside the completion's
transaction), and a recount from the history."""

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F

from accounts.selectors import learner_of
from analytics.models import DayTally
from review.models import ReviewHistory
from utils import clock
from utils.cache_utils.policy import CREATED, DELETED, invalidates

DAY = timedelta(days=1)


def day_count(*, user_id: int, day: date) -> None:
    """Add one review to the user's `day`; the first review of a day joins it to the runs of days
    reviewed before and after it."""
    with invalidates(DayTally, owner_id=user_id, change=[CREATED, "reviews", "run_start"], reason="tally"):
        row = DayTally.objects.filter(user_id=user_id, day=day)
        if row.update(reviews=F("reviews") + 1):
            return
        # Note: the user's row lock serialises first reviews of a day (two tabs at midnight), so
        # each sees the run its neighbour day is in; it is taken once per user and day. NO KEY
        # UPDATE: the history rows these transactions inserted hold KEY SHARE locks on the user
        # row, which FOR UPDATE would wait for (a deadlock between two first reviews).
        list(get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))
        if row.update(reviews=F("reviews") + 1):
            return
        before = DayTally.objects.filter(user_id=user_id, day=day - DAY).values_list("run_start", flat=True).first()
        start = before or day
        DayTally.objects.create(user_id=user_id, day=day, reviews=1, run_start=start)
        DayTally.objects.filter(user_id=user_id, run_start=day + DAY).update(run_start=start)


def day_uncount(*, user_id: int, day: date) -> None:
    """Take one review off the user's `day` (an undo): a day left with none is no longer reviewed,
    so its row goes and the days after it start a run of their own.
    # Note: the row is deleted and the following days' runs moved, two statements on the rows
    # of one run, rather than a recount of every day the user has: an undo is as cheap as the
    # completion it takes back."""
    changed = [DELETED, "reviews", "run_start"]
    with invalidates(DayTally, owner_id=user_id, change=changed, reason="tally"):
        row = DayTally.objects.filter(user_id=user_id, day=day)
        if row.filter(reviews__gt=1).update(reviews=F("reviews") - 1):
            return
        # Note: the user's row lock, as day_count takes it: a first review of the next day must
        # not join the run of a day this removes.
        list(get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))
        if row.filter(reviews__gt=1).update(reviews=F("reviews") - 1):
            return
        start = row.values_list("run_start", flat=True).first()
        if start is None:
            return  # nothing counted that day (a recount since); nothing to take off
        row.delete()
        DayTally.objects.filter(user_id=user_id, run_start=start, day__gt=day).update(run_start=day + DAY)


def days_rebuild(*, user_id: int) -> None:
    """Recount the user's days from their history, in their learner's days
    (review.services.review_counts_rebuild, and a change of the learner's zone or hour)."""
    with transaction.atomic(), invalidates(DayTally, owner_id=user_id, change=[DELETED, CREATED], reason="tally"):
        # Note: the user's row lock, which day_count takes for the first review of a day: a review
        # that would create a day the recount creates too waits, then adds itself to the recount's.
        list(get_user_model().objects.select_for_update(no_key=True).filter(pk=user_id).values_list("pk"))
        days_recount(user_id=user_id, history=ReviewHistory, days=DayTally, day_of=learner_of(user_id=user_id).day_of)


def days_recount(*, user_id: int, history, days, day_of: Callable[[datetime], date] = clock.local_date) -> None:
    """The day tallies out of the history, on the models given (the migration that creates them
    passes its own, and the days of settings.TIME_ZONE it had). # Note: the days are taken in
    Python, not by the database: a learner's day starts at an hour of the wall clock of their zone,
    which no portable SQL expression follows across a daylight-saving change. The old tallies go
    before the history is read: a review counted into one meanwhile is in the history read after
    it, and one that waits on a deleted row's lock adds itself to the new row afterwards."""
    days.objects.filter(user_id=user_id).delete()
    moments = history.objects.filter(user_id=user_id).values_list("reviewed_at", flat=True)
    per_day = sorted(Counter(day_of(moment) for moment in moments.iterator(chunk_size=5000)).items())
    tallies, start = [], None
    for day, reviews in per_day:
        if not tallies or tallies[-1].day != day - DAY:
            start = day
        tallies.append(days(user_id=user_id, run_start=start, day=day, reviews=reviews))
    days.objects.bulk_create(tallies, batch_size=1000)
