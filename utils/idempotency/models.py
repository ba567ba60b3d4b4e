from django.conf import settings
from django.db import models


class IdempotentRequest(models.Model):
    """A write made with an Idempotency-Key, and its answer. Written in the write's own
    transaction, so the row exists exactly when the write does; a retry finds it and is answered
    from it. Rows older than RESEE['IDEMPOTENCY_KEY_HOURS'] are deleted by the user's next keyed
    write (and with the user)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and parsed body.")
    status = models.PositiveSmallIntegerField(null=True)
    # Note: the JSON text as rendered, not a JSONField: jsonb reorders keys, and a replay must be
    # the same bytes as the first answer.
    body = models.TextField(default="")
    headers = models.JSONField(default=dict)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_one_request_per_user_key")]
        indexes = [models.Index(fields=["user", "created_at"], name="idempotency_user_created")]

    def __str__(self) -> str:
        return f"user {self.user_id}: {self.key}"
