import functools
from zoneinfo import available_timezones

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer

from accounts import services
from accounts.models import Learner
from utils.strict import StrictFieldsMixin, StrictSerializer

User = get_user_model()

SESSION_BODY, SESSION_COOKIE = "body", "cookie"


class RescheduleProgressSerializer(serializers.Serializer):
    """How far a switch's replay has come: cards replayed of the cards with history."""

    done = serializers.IntegerField(source="reschedule_done", read_only=True)
    total = serializers.IntegerField(source="reschedule_total", read_only=True)

    def to_representation(self, instance: Learner) -> dict | None:
        return None if instance.reschedule_job is None else super().to_representation(instance)


class AccountFieldsMixin:
    """The rules a username and an email follow wherever they are set."""

    def validate_username(self, value: str) -> str:
        if "@" in value:
            raise serializers.ValidationError("A username may not contain '@' (an identifier with '@' is an email).")
        return value

    def validate_email(self, value: str) -> str:
        others = User.objects.filter(email__iexact=value)
        if self.instance is not None:
            others = others.exclude(pk=self.instance.pk)
        if value and others.exists():
            raise serializers.ValidationError("A user with that email already exists.")
        return value


class RegisterSerializer(AccountFieldsMixin, StrictFieldsMixin, serializers.ModelSerializer):
    password = serializers.CharField(write_only=True, max_length=128, style={"input_type": "password"})
    email = serializers.EmailField(required=False, allow_blank=True, default="")

    class Meta:
        model = User
        fields = ["id", "username", "email", "password"]
        read_only_fields = ["id"]

    def validate(self, attrs):
        attrs = super().validate(attrs)
        candidate = User(username=attrs["username"], email=attrs["email"])
        services.password_validate(attrs["password"], user=candidate, field="password")
        return attrs


class AccountSerializer(AccountFieldsMixin, StrictFieldsMixin, serializers.ModelSerializer):
    """The signed-in user, as `GET/PATCH /api/auth/me/` shows and changes it.

    The learner's settings are on `user.learner` (accounts.models.Learner, which the view attaches,
    defaults and all); services.account_update saves what the PATCH named."""

    email = serializers.EmailField(required=False, allow_blank=True, max_length=254)
    time_zone = serializers.CharField(
        source="learner.zone",
        required=False,
        max_length=64,
        help_text="The learner's IANA time zone; the server's until they choose one.",
    )
    day_starts_at_hour = serializers.IntegerField(
        source="learner.day_starts_at_hour",
        required=False,
        min_value=0,
        max_value=23,
        help_text="The hour (in `time_zone`) the learner's day starts at: reviews before it count for the day before.",
    )
    new_cards_per_day = serializers.IntegerField(
        source="learner.new_cards_per_day",
        required=False,
        min_value=0,
        max_value=9999,
        help_text="Cards never reviewed that today's list introduces per learner's day, oldest first.",
    )
    reviews_per_day = serializers.IntegerField(
        source="learner.reviews_per_day",
        required=False,
        min_value=0,
        max_value=9999,
        help_text="Reviews per learner's day; once reached, today's list shows no more cards, new ones included.",
    )
    scheduler = serializers.ChoiceField(
        source="learner.scheduler",
        choices=[Learner.LADDER, Learner.FSRS],
        required=False,
        help_text="`ladder` (fixed intervals) or `fsrs` (FSRS with `desired_retention`). A switch to "
        "`fsrs` replays each card's history; a switch back keeps the cards' dates.",
    )
    desired_retention = serializers.FloatField(
        source="learner.desired_retention",
        required=False,
        min_value=0.70,
        max_value=0.99,
        help_text="FSRS's target: the probability of recalling a card when it comes due (0.70-0.99).",
    )

    reschedule_job = serializers.UUIDField(
        source="learner.reschedule_job",
        read_only=True,
        allow_null=True,
        help_text="While a switch to `fsrs` has the learner's history replayed into their cards by a background job "
        "(a long history), that job's id; null once every card is replayed (a short history is replayed in the "
        "PATCH itself).",
    )
    reschedule_progress = RescheduleProgressSerializer(
        source="learner",
        read_only=True,
        allow_null=True,
        help_text="The replay's progress while `reschedule_job` runs; null otherwise.",
    )
    days_recount_job = serializers.UUIDField(
        source="learner.days_recount_job",
        read_only=True,
        allow_null=True,
        help_text="While a change of `time_zone` or `day_starts_at_hour` has the learner's past reviews recounted "
        "into their new days by a background job (a long history), that job's id; null once the stats show the "
        "new days.",
    )

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "email",
            "date_joined",
            "time_zone",
            "day_starts_at_hour",
            "new_cards_per_day",
            "reviews_per_day",
            "days_recount_job",
            "scheduler",
            "desired_retention",
            "reschedule_job",
            "reschedule_progress",
        ]
        read_only_fields = ["id", "date_joined", "days_recount_job", "reschedule_job", "reschedule_progress"]

    def validate_time_zone(self, value: str) -> str:
        if value not in _time_zones():
            raise serializers.ValidationError(f"'{value}' is not an IANA time zone (such as 'Europe/Paris').")
        return value


@functools.cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())  # Note: a walk of the zone files: once per process


class PasswordConfirmSerializer(StrictSerializer):
    password = serializers.CharField(max_length=128, style={"input_type": "password"})


class PasswordChangeSerializer(StrictSerializer):
    current_password = serializers.CharField(max_length=128, style={"input_type": "password"})
    new_password = serializers.CharField(max_length=128, style={"input_type": "password"})


class PasswordResetSerializer(StrictSerializer):
    email = serializers.EmailField()


class PasswordResetConfirmSerializer(StrictSerializer):
    uid = serializers.CharField(max_length=64)
    token = serializers.CharField(max_length=128)
    new_password = serializers.CharField(max_length=128, style={"input_type": "password"})


class TokenObtainSerializer(StrictFieldsMixin, TokenObtainPairSerializer):
    """simplejwt's login: `username` takes a username or an email (accounts.backends). `session`:
    `body` answers both tokens in JSON; `cookie` (browsers) sets the refresh token as an HttpOnly
    cookie and answers only the access token."""

    session = serializers.ChoiceField([SESSION_BODY, SESSION_COOKIE], default=SESSION_BODY, write_only=True)

    @classmethod
    def get_token(cls, user):
        return services.refresh_token_for(user)

    def validate(self, attrs):
        return {**super().validate(attrs), "session": attrs["session"]}


class RefreshSerializer(StrictSerializer):
    refresh = serializers.CharField(
        max_length=2048, required=False, help_text="Left out, the refresh cookie of the browser session is read."
    )


class LogoutSerializer(StrictSerializer):
    refresh = serializers.CharField(
        max_length=2048, required=False, help_text="Left out, the refresh cookie of the browser session is read."
    )


class TokenPairSerializer(serializers.Serializer):
    """An answer only (never read from a request)."""

    access = serializers.CharField()
    refresh = serializers.CharField(
        required=False, help_text="Absent in the browser session: it is in the refresh cookie."
    )
