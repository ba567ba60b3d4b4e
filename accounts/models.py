from django.db import models


class RevokedToken(models.Model):
    """Durable record of a revoked JWT. Redis holds the fast copy; this table is the truth it is
    rebuilt from after a restart or an eviction, and the only store for used refresh tokens."""

    ACCESS, REFRESH = "access", "refresh"

    jti = models.CharField(max_length=64, unique=True)
    user_id = models.BigIntegerField()
    token_type = models.CharField(max_length=16, choices=[(ACCESS, ACCESS), (REFRESH, REFRESH)])
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["user_id", "token_type", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.token_type} {self.jti}"


class RevokedUser(models.Model):
    """Every token of this user issued at or before `not_after` (epoch seconds) is dead: set when a
    user is deactivated or deleted. Not a foreign key, so it outlives a deleted user."""

    user_id = models.BigIntegerField(unique=True)
    not_after = models.BigIntegerField()

    def __str__(self) -> str:
        return f"user {self.user_id} up to {self.not_after}"
