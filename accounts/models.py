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


class RevokedFamily(models.Model):
    """A sign-in whose refresh tokens are all dead: one of them was presented a second time, so
    a copy is in someone else's hands (OAuth 2.0 Security BCP, refresh token rotation). `family`
    is the claim every refresh token descended from that sign-in carries."""

    family = models.CharField(max_length=64, unique=True)
    user_id = models.BigIntegerField()
    expires_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"family {self.family} of user {self.user_id}"


class ReleasedEmail(models.Model):
    """An address taken from an account when emails became unique: it was the address of an older
    account too (compared case-insensitively), which kept it. Kept so the owner can be told."""

    user_id = models.BigIntegerField(db_index=True)
    email = models.EmailField()
    kept_by_user_id = models.BigIntegerField()
    released_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.email} of user {self.user_id} (kept by {self.kept_by_user_id})"
