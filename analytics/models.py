"""A rollup of the review history, written in the completion's transaction, so that a stats miss
reads a row per day instead of every review ever made (the per-card counts are on ReviewSchedule)."""

from django.conf import settings
from django.db import models

from utils.cache_utils.policy import PolicedQuerySet


class DayTally(models.Model):
    """A user's reviews on one learner's day (accounts.models.Learner: fixed when the review is
    made, recounted when the learner changes zone or hour; after changing TIME_ZONE, run
    `manage.py review_counts_rebuild`).
    Note: it records what the user did, so it outlives the cards reviewed: deleting a card does not
    break a streak or empty a past day of the activity chart."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    reviews = models.PositiveIntegerField(default=0)
    # The first day of the run of consecutive days reviewed that this day is in: the streak is one
    # row away, however long it is.
    run_start = models.DateField()

    objects = PolicedQuerySet.as_manager()  # bulk writes bump what utils.cache_utils.policy says

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "day"], name="daytally_user_day")]

    def __str__(self) -> str:
        return f"{self.user_id} on {self.day}: {self.reviews}"
