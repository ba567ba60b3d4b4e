"""Stateless JWT authentication with a Redis revocation check: no SQL query per request, and the
check's HMGET travels with the request's throttle counters and cache lookup (utils.prefetch)."""

from functools import cached_property, lru_cache

from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.models import TokenUser as SimpleTokenUser

from accounts import revocation
from utils import prefetch
from utils.redis_layer import REVOCATION


class TokenUser(SimpleTokenUser):
    """The user as the token describes it; `id` is an int so it compares with model ids."""

    @cached_property
    def id(self) -> int:
        return int(self.token["user_id"])


class RevocableJWTAuthentication(JWTStatelessUserAuthentication):
    def get_validated_token(self, raw_token):
        try:
            token = _verified(raw_token)
            token.check_exp(current_time=tokens.aware_utcnow())  # the one check that changes with time
        except TokenError:
            return _verify(raw_token)  # raises the InvalidToken simplejwt words for an expired token
        return token

    def authenticate(self, request):
        # Note: a request FreshHitMiddleware handed down the stack was authenticated there already.
        done = getattr(request._request, "resee_authenticated", None)
        if done is not None:
            return done
        found = super().authenticate(request)
        if found is None:
            return None
        user, token = found
        user_id, jti = int(token["user_id"]), token["jti"]
        check = revocation.check_command(user_id=user_id, jti=jti)
        replies = prefetch.ask(request, user=user, commands={REVOCATION: [check]})
        reply = replies[REVOCATION][0] if REVOCATION in replies else None
        if revocation.is_revoked(user_id=user_id, jti=jti, issued_at=int(token["iat"]), reply=reply):
            prefetch.refund(request)
            raise InvalidToken("Token has been revoked.")
        request._request.resee_authenticated = user, token
        return user, token


def _verify(raw_token: bytes):
    """simplejwt's checks (signature, expiry, type, jti claim), then ours: integer user_id and iat."""
    token = JWTStatelessUserAuthentication().get_validated_token(raw_token)
    try:
        int(token["user_id"]), int(token["iat"])
    except (KeyError, TypeError, ValueError):
        raise InvalidToken("Token lacks a valid user_id or iat claim.") from None
    return token


# Note: a token's signature and claims are checked once per process, not on every request (an
# HMAC and two JSON decodes, ~45 us, a tenth of a hit): the very bytes of a token verified before
# are that token. Only its expiry changes with time, and it is checked on every use; whether it
# was revoked is Redis's answer, asked on every request. A bad token raises and is never kept;
# a new signing key takes a restart (simplejwt reads it once per process too).
_verified = lru_cache(maxsize=4096)(_verify)
