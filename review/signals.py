"""Invalidate the owner's cached answers when a schedule or a history row changes, from any path.
Schedules feed today's list; history feeds the stats."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from review.models import ReviewHistory, ReviewSchedule
from utils.cache_utils import STATS, TODAY, invalidate_on_commit


@receiver([post_save, post_delete], sender=ReviewSchedule, dispatch_uid="review.invalidate_schedule")
def _schedule_written(sender, instance: ReviewSchedule, **kwargs):
    invalidate_on_commit(user_id=instance.owner_id, namespaces=(TODAY,), reason="schedule")


@receiver([post_save, post_delete], sender=ReviewHistory, dispatch_uid="review.invalidate_history")
def _history_written(sender, instance: ReviewHistory, **kwargs):
    invalidate_on_commit(user_id=instance.user_id, namespaces=(STATS,), reason="history")
