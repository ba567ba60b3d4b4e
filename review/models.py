from django.conf import settings
from django.db import models

from content.models import Content
from utils.cache_utils.policy import PolicedQuerySet


class ReviewSchedule(models.Model):
    """Where one card stands on the interval ladder. `owner` duplicates content.owner so that the
    hot "due today" query is one index range scan."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules")
    content = models.OneToOneField(Content, on_delete=models.CASCADE, related_name="schedule")
    interval_step = models.PositiveSmallIntegerField(default=0)
    next_review_date = models.DateField()
    is_active = models.BooleanField(default=True)
    initial_review_completed = models.BooleanField(default=False)
    # Note: the card's reviews so far (Anki keeps reps on the card too): the stats' totals and
    # success rates, counted on the row a completion locks and saves anyway.
    reviews = models.PositiveIntegerField(default=0)
    remembered = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PolicedQuerySet.as_manager()  # bulk writes bump what utils.cache_utils.policy says

    class Meta:
        ordering = ["next_review_date", "id"]
        indexes = [models.Index(fields=["owner", "is_active", "next_review_date"])]

    def __str__(self) -> str:
        return f"{self.content_id} due {self.next_review_date}"


class ReviewHistory(models.Model):
    REMEMBERED, PARTIAL, FORGOT = "remembered", "partial", "forgot"
    RESULTS = [(REMEMBERED, REMEMBERED), (PARTIAL, PARTIAL), (FORGOT, FORGOT)]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="review_history")
    content = models.ForeignKey(Content, on_delete=models.CASCADE, related_name="review_history")
    result = models.CharField(max_length=16, choices=RESULTS)
    time_spent_seconds = models.PositiveIntegerField(null=True, blank=True)
    reviewed_at = models.DateTimeField(db_index=True)

    objects = PolicedQuerySet.as_manager()  # bulk writes bump what utils.cache_utils.policy says

    class Meta:
        ordering = ["-reviewed_at", "-id"]
        verbose_name_plural = "review history"
        indexes = [models.Index(fields=["user", "-reviewed_at"])]

    def __str__(self) -> str:
        return f"{self.content_id} {self.result} at {self.reviewed_at:%Y-%m-%d %H:%M}"
