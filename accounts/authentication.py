"""Who a request is: a stateless JWT, checked without the database, whose revocation every
process sees at once and no Redis failure can undo.

`authenticate` is the whole of it for any view: `verify` (signature, claims, expiry; no I/O), then
the revocation check, one HMGET of its own. A cached GET takes the two apart
(utils.cache_utils.read_path): it verifies first and sends `revocation_command` with the
request's other Redis commands, then asks `is_revoked` of the reply.

Revocation: each user has one Redis hash in the revocation DB: `jti:<jti>` fields for revoked access tokens,
`not_after` for a user-wide cut-off, and `loaded` once the hash was filled from the database.
The database is the source of truth:

- hash missing or without `loaded` (Redis restarted, key evicted or expired): rebuilt from the
  database, so a restart or LRU eviction never brings a revoked token back;
- Redis unreachable, or its breaker open (utils.redis_layer): the check asks the database instead
  (fail safe, not open);
- a revocation meeting this process's open circuit first asks Redis whether it is back
  (`redis_layer.probe_now`); one whose Redis write failed is kept in this process and replayed on
  its next check that reaches Redis. # Note: until then, other processes that still hold a
  `loaded` hash accept that token; the window is one request of this process, at most the
  token's remaining life.

Writes only ever HSET fields, never delete the hash, so a rebuild racing a revocation cannot
drop it.
"""

import logging
import threading
from datetime import datetime
from functools import lru_cache

from django.db import transaction
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from accounts.models import RevokedFamily, RevokedToken, RevokedUser
from utils import clock, redis_layer
from utils.redis_layer import REVOCATION, RedisUnavailable

# --- Revocation ------------------------------------------------------------------------------------

logger = logging.getLogger(__name__)

LOADED_FIELD = "loaded"
NOT_AFTER_FIELD = "not_after"
# A hash only caches the database, so its lifetime is a memory bound, not a correctness one.
HASH_TTL_SECONDS = 24 * 3600

_pending: list[tuple[int, dict]] = []
_pending_lock = threading.Lock()


def _redis():
    return redis_layer.client(REVOCATION)


@redis_layer.memoized_key
def _hash_key(user_id: int) -> str:
    return redis_layer.make_key(REVOCATION, f"user:{redis_layer.user_tag(user_id)}")


_jti_field = "jti:{}".format  # the hash's field of one revoked access token


def _write_fields(user_id: int, fields: dict) -> None:
    pipe = _redis().pipeline(transaction=False)
    pipe.hset(_hash_key(user_id), mapping=fields)
    pipe.expire(_hash_key(user_id), HASH_TTL_SECONDS)
    redis_layer.execute_durably(REVOCATION, pipe)


def _propagate(user_id: int, fields: dict) -> None:
    redis_layer.probe_now(REVOCATION, user_id)  # as a cache bump does (utils.cache_utils.invalidation)
    try:
        redis_layer.call_for(user_id, REVOCATION, "revoke", _write_fields, user_id, fields)
    except RedisUnavailable as exc:
        logger.error("revocation: Redis write failed, kept for replay (user %s): %s", user_id, exc)
        with _pending_lock:
            _pending.append((user_id, fields))


def _replay_pending() -> None:
    with _pending_lock:
        batch = _pending[:]
        _pending.clear()
    for index, (user_id, fields) in enumerate(batch):
        try:
            redis_layer.call_for(user_id, REVOCATION, "replay", _write_fields, user_id, fields)
        except RedisUnavailable:
            with _pending_lock:
                _pending.extend(batch[index:])
            raise


def revoke_token(*, jti: str, user_id: int, token_type: str, expires_at: datetime) -> bool:
    """Record the revocation; False if it was already revoked (or used, for a refresh token)."""
    _, created = RevokedToken.objects.get_or_create(
        jti=jti, defaults={"user_id": user_id, "token_type": token_type, "expires_at": expires_at}
    )
    if created and token_type == RevokedToken.ACCESS:
        transaction.on_commit(lambda: _propagate(user_id, {_jti_field(jti): 1}))
    return created


def revoke_user_tokens(*, user_id: int) -> int:
    """Kill every token issued to this user up to now (deactivation, deletion, a new password);
    answers the cut-off, in epoch seconds: a token with a later `iat` lives."""
    not_after = int(clock.now().timestamp())
    RevokedUser.objects.update_or_create(user_id=user_id, defaults={"not_after": not_after})
    transaction.on_commit(lambda: _propagate(user_id, {NOT_AFTER_FIELD: not_after}))
    return not_after


def revoke_family(*, family: str, user_id: int, expires_at: datetime) -> None:
    """Kill every refresh token of one sign-in. Note: only refresh tokens carry the check (a
    refresh reads the database anyway); the family's access tokens live out their minutes."""
    RevokedFamily.objects.get_or_create(family=family, defaults={"user_id": user_id, "expires_at": expires_at})


def is_family_revoked(family: str) -> bool:
    return RevokedFamily.objects.filter(family=family).exists()


def _fields_from_database(user_id: int) -> dict:
    fields = {LOADED_FIELD: 1}
    jtis = RevokedToken.objects.filter(
        user_id=user_id, token_type=RevokedToken.ACCESS, expires_at__gt=clock.now()
    ).values_list("jti", flat=True)
    fields.update({_jti_field(jti): 1 for jti in jtis})
    cutoff = RevokedUser.objects.filter(user_id=user_id).values_list("not_after", flat=True).first()
    if cutoff is not None:
        fields[NOT_AFTER_FIELD] = cutoff
    return fields


def check_command(token) -> tuple:
    """The HMGET of the check of `token`, to send with other commands; its reply goes to `is_revoked`."""
    return ("HMGET", _hash_key(int(token["user_id"])), LOADED_FIELD, NOT_AFTER_FIELD, _jti_field(token["jti"]))


def _read_fields(token) -> list:
    return _redis().execute_command(*check_command(token))


ASK = object()  # `is_revoked` without a reply: it asks Redis itself


def is_revoked(token, reply=ASK) -> bool:
    """Whether `token` was revoked. `reply`: the check's HMGET reply when it was already sent,
    None when that round trip could not reach Redis; left out, the check asks Redis itself."""
    user_id = int(token["user_id"])
    try:
        if _pending:
            _replay_pending()
            reply = ASK  # Note: an answer read before the replay may miss what it wrote
        if reply is None:
            raise RedisUnavailable("the request's round trip failed")
        if reply is ASK:
            reply = redis_layer.call_for(user_id, REVOCATION, "check", _read_fields, token)
        loaded, not_after, listed = reply
        if loaded is None:
            fields = _fields_from_database(user_id)
            redis_layer.call_for(user_id, REVOCATION, "rebuild", _write_fields, user_id, fields)
            not_after, listed = fields.get(NOT_AFTER_FIELD), fields.get(_jti_field(token["jti"]))
    except RedisUnavailable:
        # Note: the layer logged the failure; while the breaker is open this is silent, as the
        # database answers every check.
        fields = _fields_from_database(user_id)
        not_after, listed = fields.get(NOT_AFTER_FIELD), fields.get(_jti_field(token["jti"]))
    return listed is not None or (not_after is not None and int(token["iat"]) <= int(not_after))


# --- Authentication --------------------------------------------------------------------------------


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

    # Note: the revocation check's own functions, not methods that call them.
    revocation_command = staticmethod(check_command)
    is_revoked = staticmethod(is_revoked)

    @staticmethod
    def refuse_revoked():
        raise InvalidToken("Token has been revoked.")


def _verify(raw_token: bytes):
    """simplejwt's checks (signature, expiry, type, jti claim), then ours: integer user_id and iat."""
    token = JWTStatelessUserAuthentication().get_validated_token(raw_token)
    try:
        user_id, _ = int(token["user_id"]), int(token["iat"])
    except (KeyError, TypeError, ValueError):
        raise InvalidToken("Token lacks a valid user_id or iat claim.") from None
    token["user_id"] = user_id  # Note: so the user simplejwt builds has an id that compares with model ids
    return token


# Note: a token's signature and claims are checked once per process, not on every request (an
# HMAC and two JSON decodes): the very bytes of a token verified before are that token. Only its
# expiry changes with time, and it is checked on every use; whether it was revoked is Redis's
# answer, asked on every request. A bad token raises and is never kept; a new signing key takes
# a restart (simplejwt reads it once per process too).
_verified = lru_cache(maxsize=4096)(_verify)
