"""The bugs the checker must catch, each a small change of one function of the served code
(copies of the real functions with the bug in): `inject(name)` patches it in."""

import logging
import time

logger = logging.getLogger("chaos.mutant")


def bump_before_commit() -> None:
    """A write's invalidation is sent as its block begins, inside the transaction, instead of
    after the commit: a reader meanwhile refills the cache from the pre-commit rows under the
    new token, and nothing bumps it again."""
    import sys
    from contextlib import contextmanager

    from utils.cache_utils import invalidation, policy

    real = policy.invalidates

    @contextmanager
    def invalidates(*writes, owner_id, change, reason):
        stale = set().union(*(policy.namespaces_for(model, change=change) for model in writes))
        if stale:
            invalidation.bump_now(user_id=owner_id, namespaces=stale, reasons={reason})
            # Note: the window widened, as a slower write would: the refresh-on-write and the
            # readers meanwhile refill from the pre-commit rows every time, not now and then.
            time.sleep(0.15)
        policy._muted.depth = getattr(policy._muted, "depth", 0) + 1
        try:
            yield
        finally:
            policy._muted.depth -= 1

    for module in list(sys.modules.values()):
        if getattr(module, "invalidates", None) is real:
            module.invalidates = invalidates


def bump_dropped_while_redis_down() -> None:
    """A bump that cannot reach Redis is forgotten: no debt, no recovery before the next use."""
    from utils.cache_utils import invalidation, l1, refresh, store
    from utils.redis_layer import RedisUnavailable

    def bump_now(*, user_id, namespaces, reasons):
        namespaces = sorted(namespaces)
        if (local := l1.local_cache()) is not None:
            local.evict(user_id, namespaces)
        try:
            store.guarded(user_id, "invalidate", store.bump, user_id=user_id, namespaces=namespaces)
            if "user" not in reasons:
                refresh.schedule(user_id=user_id, namespaces=namespaces)
        except RedisUnavailable:
            return

    invalidation.bump_now = bump_now


def revocation_skipped_while_breaker_open() -> None:
    """A token's revocation check that cannot reach Redis lets the token through instead of
    asking the database."""
    from accounts import authentication
    from utils.redis_layer import REVOCATION, RedisUnavailable

    real = authentication.is_revoked

    def is_revoked(token, reply=authentication.ASK):
        if reply is None:
            return False
        try:
            if reply is authentication.ASK:
                user_id = int(token["user_id"])
                reply = authentication.redis_layer.call_for(
                    user_id, REVOCATION, "check", authentication._read_fields, token
                )
        except RedisUnavailable:
            return False
        return real(token, reply)

    authentication.RevocableJWTAuthentication.is_revoked = staticmethod(is_revoked)


def refresh_version_after_compute() -> None:
    """The refresh-on-write computes its entry first and reads the namespace's version after: a
    write that commits meanwhile is missing from an entry stored under that write's own token."""
    from utils.cache_utils import refresh, singleflight, store, warm
    from utils.cache_utils.conf import cache_settings
    from utils.cache_utils.read_path import release, render
    from utils.redis_layer import RedisUnavailable

    def warm_late(read):
        user_id, namespace, params = read.user_id, read.namespace, read.params
        body, seconds = render(read)
        # Note: the window widened, as a slower database would: a short run then meets the bug
        # every time, not once in a few runs.
        time.sleep(0.15)
        try:
            store.guarded(user_id, "lookup", store.lookup, user_id=user_id, namespace=namespace, params=params)
            return warm.FRESH
        except store.CacheMiss as miss:
            version = miss.version or store.guarded(
                user_id, "claim", store.claim_version, user_id=user_id, namespace=namespace
            )
        lock = store.lock_key(user_id, namespace, version, params)
        token = store.guarded(user_id, "lock", singleflight.acquire, lock, ttl_ms=cache_settings.LOCK_TTL_MS)
        if token is None:
            return warm.BUSY
        try:
            store.guarded(user_id, "store", store.store, user_id=user_id, namespace=namespace, params=params,
                          version=version, body=body, compute_seconds=seconds,
                          until=read.until() if read.until is not None else float("inf"))  # fmt: skip
        except RedisUnavailable:
            raise
        finally:
            release(user_id, lock, token)
        return warm.WARMED

    refresh.warm = warm_late


BUGS = {
    "bump_before_commit": bump_before_commit,
    "bump_dropped": bump_dropped_while_redis_down,
    "revocation_open": revocation_skipped_while_breaker_open,
    "refresh_version_after": refresh_version_after_compute,
}


def inject(name: str) -> None:
    BUGS[name]()
    logger.warning("chaos mutant %s injected", name)
