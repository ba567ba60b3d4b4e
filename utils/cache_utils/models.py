from django.db import models


class InvalidationDebt(models.Model):
    """A namespace bump that could not reach Redis. Kept until a process that can reach Redis
    again sends it, before that process serves any hit (see invalidation.settle_debts)."""

    user_id = models.BigIntegerField()
    namespaces = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.namespaces}"
