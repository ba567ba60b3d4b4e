"""Precomputing cache entries outside a request (`manage.py cache_warm`).

A cached endpoint describes what it serves one user as a `CachedRead`: the namespace, the key
parameters and the computation. The read path answers it, the warm command to `warm`,
so a warmed entry is exactly the one the next GET looks up; the two cannot drift apart.

`warm` follows the protocol of a miss: the namespace token is read (or claimed) *before* the
computation and the entry is stored under it, so a write that commits while the warm computes
leaves the entry tagged with a dead token, never served. It takes the entry's single-flight lock
like a request would, so a request arriving meanwhile waits for the warm's result instead of
computing it again. Every Redis call goes through `guarded`: Redis down raises RedisUnavailable.
"""

from utils import clock
from utils.cache_utils import singleflight, store
from utils.cache_utils.conf import cache_settings

# Note: a miss's own step and lock release: a warmed body is byte-identical to a miss's.
from utils.cache_utils.read_path import fill, release
from utils.cache_utils.reads import CachedRead
from utils.cache_utils.store import guarded
from utils.redis_layer import RedisUnavailable

WARMED, FRESH, BUSY = "warmed", "fresh", "busy"


def warm(read: CachedRead) -> str:
    """Store `read`'s entry and say WARMED; FRESH when a fresh entry of the current token is
    already there, BUSY when a request holds its recompute lock (it is being computed)."""
    user_id, namespace, params = read.user_id, read.namespace, read.params
    try:
        entry = guarded(user_id, "lookup", store.lookup, user_id=user_id, namespace=namespace, params=params)
    except store.CacheMiss as miss:
        version = miss.version or guarded(user_id, "claim", store.claim_version, user_id=user_id, namespace=namespace)
    else:
        if entry.is_fresh(clock.timestamp()):
            return FRESH
        version = entry.version
    lock = store.lock_key(user_id, namespace, version, params)
    token = guarded(user_id, "lock", singleflight.acquire, lock, ttl_ms=cache_settings.LOCK_TTL_MS)
    if token is None:
        return BUSY
    try:
        _, entry = fill(read, version)
    finally:
        release(user_id, lock, token)
    if entry is None:
        raise RedisUnavailable("the warmed entry could not be stored")
    return WARMED
