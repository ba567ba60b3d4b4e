"""Account writes: registration, refresh-token rotation and logout."""

from datetime import UTC, datetime

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from rest_framework.exceptions import ValidationError
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken, Token

from accounts.models import RevokedToken, RevokedUser
from accounts.revocation import revoke_token

User = get_user_model()


def user_register(*, username: str, password: str, email: str = "") -> User:
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, password=password, email=email)
    except IntegrityError:  # lost a race with another registration of the same name
        raise ValidationError({"username": ["A user with that username already exists."]}) from None


def _expiry(token: Token) -> datetime:
    return datetime.fromtimestamp(token["exp"], tz=UTC)


def _parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None


@transaction.atomic
def token_refresh(*, raw_refresh: str) -> dict:
    """Rotate: the presented refresh token is spent (a second use is refused) and a new pair is
    issued, unless the user is gone, deactivated or was cut off after the token was issued."""
    refresh = _parse_refresh(raw_refresh)
    user_id = int(refresh["user_id"])
    user = User.objects.filter(pk=user_id, is_active=True).first()
    cutoff = RevokedUser.objects.filter(user_id=user_id).values_list("not_after", flat=True).first()
    if user is None or (cutoff is not None and refresh["iat"] <= cutoff):
        raise InvalidToken("Token has been revoked.")
    if not revoke_token(
        jti=refresh["jti"], user_id=user_id, token_type=RevokedToken.REFRESH, expires_at=_expiry(refresh)
    ):
        raise InvalidToken("Refresh token was already used or revoked.")
    new_refresh = RefreshToken.for_user(user)
    return {"access": str(new_refresh.access_token), "refresh": str(new_refresh)}


@transaction.atomic
def user_logout(*, user_id: int, access: Token, raw_refresh: str | None = None) -> None:
    if raw_refresh:
        refresh = _parse_refresh(raw_refresh)
        if int(refresh["user_id"]) != user_id:
            raise InvalidToken("The refresh token belongs to another user.")
        revoke_token(jti=refresh["jti"], user_id=user_id, token_type=RevokedToken.REFRESH, expires_at=_expiry(refresh))
    revoke_token(jti=access["jti"], user_id=user_id, token_type=RevokedToken.ACCESS, expires_at=_expiry(access))
