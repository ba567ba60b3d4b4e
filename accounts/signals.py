"""Catch user deactivation and deletion from any path (admin, shell, services) so the user's
stateless tokens stop working at once, and a deleted user's cached answers are dropped."""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from accounts.authentication import revoke_user_tokens
from utils.cache_utils import invalidate_on_commit

User = get_user_model()


@receiver(post_save, sender=User, dispatch_uid="accounts.user_deactivated")
def _user_saved(sender, instance, created, **kwargs):
    if not created and not instance.is_active:
        revoke_user_tokens(user_id=instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.user_deleted")
def _user_deleted(sender, instance, **kwargs):
    revoke_user_tokens(user_id=instance.pk)
    invalidate_on_commit(user_id=instance.pk, reason="user")
