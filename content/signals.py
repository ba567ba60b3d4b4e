"""Invalidate the owner's cached answers on every content or category write, from any path
(services, admin, shell). Content and categories appear in all three cached endpoints."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from content.models import Category, Content
from utils.cache_utils import CONTENT, STATS, TODAY, invalidate_on_commit


@receiver([post_save, post_delete], sender=Content, dispatch_uid="content.invalidate_content")
def _content_written(sender, instance: Content, **kwargs):
    invalidate_on_commit(user_id=instance.owner_id, namespaces=(CONTENT, TODAY, STATS), reason="content")


@receiver([post_save, post_delete], sender=Category, dispatch_uid="content.invalidate_category")
def _category_written(sender, instance: Category, **kwargs):
    invalidate_on_commit(user_id=instance.owner_id, namespaces=(CONTENT, TODAY, STATS), reason="category")
