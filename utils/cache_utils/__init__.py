"""The one home of cache policy: keys, TTLs, invalidation and the read-through path.

Apps describe each cached answer as a `CachedRead` in their selectors; views return it from
`cached_read(request)` and mix in `read_path.CachedReadMixin`, whose GET is the read path; services
declare their writes to `policy.invalidates(...)`, which bumps what the table says; operators
use `invalidate_cache(...)` and `invalidate_pattern(...)`. Nothing else in the project builds a
cache key or talks to the `api` Redis database.

    request ──▶ MGET {u42}:ns:today, {u42}:today:<params>   (in the request's one round trip,
                  │                                           with its revocation and throttle)
                  │ entry.version == namespace version ──▶ HIT: stored bytes, no SQL
                  │ otherwise ─▶ compute from the database ─▶ SET entry tagged with the version
                  │              read *before* computing                        ──▶ MISS
                  │ Redis error / cache off ─▶ compute ──────────────────────────▶ BYPASS
    write ──▶ commit ──▶ on_commit: SET {u42}:ns:<namespace> = new random token
"""

from utils.cache_utils.conf import CONTENT, NAMESPACES, STATS, TODAY
from utils.cache_utils.invalidation import invalidate_cache, invalidate_on_commit, invalidate_pattern
from utils.cache_utils.store import generate_cache_key

__all__ = [
    "CONTENT",
    "NAMESPACES",
    "STATS",
    "TODAY",
    "generate_cache_key",
    "invalidate_cache",
    "invalidate_on_commit",
    "invalidate_pattern",
]
