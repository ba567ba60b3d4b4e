"""Stateless JWT authentication with a Redis revocation check: no SQL query per request.

`authenticate` is the whole of it for any view: `verify` (signature, claims, expiry; no I/O), then
the revocation check, one HMGET of its own. A cached GET takes the two apart
(utils.cache_utils.read_path): it verifies first and sends `revocation_command` with the
request's other Redis commands, then asks `is_revoked` of the reply."""

from functools import cached_property, lru_cache

from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.models import TokenUser as SimpleTokenUser

from accounts import revocation


class TokenUser(SimpleTokenUser):
    """The user as the token describes it; `id` is an int so it compares with model ids."""

    @cached_property
    def id(self) -> int:
        return int(self.token["user_id"])


class RevocableJWTAuthentication(JWTStatelessUserAuthentication):
    def authenticate(self, request):
        found = self.verify(request)
        if found is not None and self.is_revoked(found[1]):
            self.refuse_revoked()
        return found

    def verify(self, request):
        """(user, token) from the Authorization header, checked without any I/O; None without one."""
        return super().authenticate(request)

    def get_validated_token(self, raw_token):
        try:
            token = _verified(raw_token)
            token.check_exp(current_time=tokens.aware_utcnow())  # the one check that changes with time
        except TokenError:
            return _verify(raw_token)  # raises the InvalidToken simplejwt words for an expired token
        return token

    @staticmethod
    def revocation_command(token) -> tuple:
        return revocation.check_command(user_id=int(token["user_id"]), jti=token["jti"])

    @staticmethod
    def is_revoked(token, reply=revocation.ASK) -> bool:
        """`reply`: that command's reply (None when its round trip failed); left out, asked here."""
        user_id, jti, issued_at = int(token["user_id"]), token["jti"], int(token["iat"])
        return revocation.is_revoked(user_id=user_id, jti=jti, issued_at=issued_at, reply=reply)

    @staticmethod
    def refuse_revoked():
        raise InvalidToken("Token has been revoked.")


def _verify(raw_token: bytes):
    """simplejwt's checks (signature, expiry, type, jti claim), then ours: integer user_id and iat."""
    token = JWTStatelessUserAuthentication().get_validated_token(raw_token)
    try:
        int(token["user_id"]), int(token["iat"])
    except (KeyError, TypeError, ValueError):
        raise InvalidToken("Token lacks a valid user_id or iat claim.") from None
    return token


# Note: a token's signature and claims are checked once per process, not on every request (an
# HMAC and two JSON decodes): the very bytes of a token verified before are that token. Only its
# expiry changes with time, and it is checked on every use; whether it was revoked is Redis's
# answer, asked on every request. A bad token raises and is never kept; a new signing key takes
# a restart (simplejwt reads it once per process too).
_verified = lru_cache(maxsize=4096)(_verify)
