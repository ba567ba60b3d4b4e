from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import models

from utils import clock
from utils.cache_utils.policy import PolicedQuerySet


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


class Learner(models.Model):
    """A user's study settings: the learner's day (its zone and the hour it starts at), the daily
    limits, and the scheduler (the ladder, or FSRS with the retention the learner wants). A row
    only once the user changes one (`accounts.selectors.learner_of` answers the defaults without it).
    # Note: beside Django's user, not on it: the user model is `auth.User`, and swapping it in a
    # live project is a migration of its own; one row per user read on a miss or a write only."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="learner"
    )
    # Note: blank for the server's (settings.TIME_ZONE), which a learner who never chose one follows.
    time_zone = models.CharField(max_length=64, blank=True, default="")
    day_starts_at_hour = models.PositiveSmallIntegerField(default=4)
    new_cards_per_day = models.PositiveIntegerField(default=20)
    reviews_per_day = models.PositiveIntegerField(default=200)
    LADDER, FSRS = "ladder", "fsrs"
    scheduler = models.CharField(max_length=8, choices=[(LADDER, LADDER), (FSRS, FSRS)], default=LADDER)
    desired_retention = models.FloatField(default=0.9)  # FSRS's target recall probability, 0.70-0.99
    # Note: the job recounting the learner's past reviews into the days of a new zone or hour,
    # while it runs (a long history's; a short one is recounted in the change's own request).
    days_recount_job = models.UUIDField(null=True, blank=True, editable=False)
    # Note: the job replaying the learner's history into their cards' FSRS state after a switch
    # to FSRS, while it runs (a long history's), and how far it has come: cards done of total.
    reschedule_job = models.UUIDField(null=True, blank=True, editable=False)
    reschedule_done = models.PositiveIntegerField(default=0, editable=False)
    reschedule_total = models.PositiveIntegerField(default=0, editable=False)

    objects = PolicedQuerySet.as_manager()  # bulk writes bump what utils.cache_utils.policy says

    def __str__(self) -> str:
        return f"user {self.user_id} in {self.time_zone} from {self.day_starts_at_hour}h"

    @property
    def zone(self) -> str:
        return self.time_zone or settings.TIME_ZONE

    def day_of(self, moment: datetime) -> date:
        return clock.learner_date(moment, zone=self.zone, day_starts_at_hour=self.day_starts_at_hour)

    def bounds_of(self, day: date) -> tuple[datetime, datetime]:
        """The instants the learner's `day` starts and ends at."""
        start = clock.day_start(day, zone=self.zone, day_starts_at_hour=self.day_starts_at_hour)
        end = clock.day_start(day + timedelta(days=1), zone=self.zone, day_starts_at_hour=self.day_starts_at_hour)
        return start, end

    def next_day_at(self, moment: datetime) -> datetime:
        return clock.next_rollover(moment, zone=self.zone, day_starts_at_hour=self.day_starts_at_hour)
