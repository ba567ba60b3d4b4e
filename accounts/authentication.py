"""Stateless JWT authentication with a Redis revocation check: no SQL query per request."""

from functools import cached_property

from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser as SimpleTokenUser

from accounts.revocation import is_revoked


class TokenUser(SimpleTokenUser):
    """The user as the token describes it; `id` is an int so it compares with model ids."""

    @cached_property
    def id(self) -> int:
        return int(self.token["user_id"])


class RevocableJWTAuthentication(JWTStatelessUserAuthentication):
    def get_validated_token(self, raw_token):
        token = super().get_validated_token(raw_token)
        try:
            user_id, issued_at = int(token["user_id"]), int(token["iat"])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken("Token lacks a valid user_id or iat claim.") from None
        if is_revoked(user_id=user_id, jti=token["jti"], issued_at=issued_at):
            raise InvalidToken("Token has been revoked.")
        return token
