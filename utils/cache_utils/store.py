"""Entries in Redis: the rendered body behind a one-line JSON header.

    {"v": <namespace token>, "c": <created at>, "x": <expires at>, "d": <compute seconds>,
     "e": <etag>, "z": <1 if the body is zlib-compressed>, "u": <until>}\\n<body>

`until`: the moment the answer changes with the clock alone (a learner's day turning), when it
has one; past it the entry is never served, fresh, stale or from an L1.

The body is stored and served as bytes: a hit parses only the header. Nothing is pickled. Redis
keeps an entry for its TTL plus the stale-while-revalidate window, so an expired entry can still be
served (as STALE) while one request recomputes it.

An entry is recomputed before it expires by probabilistic early expiration (XFetch, Vattani,
Chierichetti and Lowenstein, "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015): a
reader recomputes early when `now - delta * beta * ln(random()) >= expiry`, where `delta` is how
long the last computation took. The chance is exp(-(expiry - now) / (delta * beta)): negligible
far from expiry, rising as it nears, and earlier for entries that are slow to compute, so usually
one reader refreshes the entry before it expires instead of many at once.
"""

import hashlib
import logging
import math
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from django.conf import settings

from utils import clock, redis_layer
from utils.cache_utils import keys
from utils.cache_utils.conf import cache_settings, ttl_for
from utils.cache_utils.metrics import OVERSIZE

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    version: str
    created_at: float
    compute_seconds: float
    etag: str
    body: bytes  # as stored, zlib-compressed, when `compressed` (decode(..., inflate=False))
    expires_at: float = math.inf
    compressed: bool = False
    until: float = math.inf  # epoch seconds of `clock.now()`, not of `clock.timestamp()`

    def is_fresh(self, now: float) -> bool:
        return now < self.expires_at and self.holds()

    def holds(self) -> bool:
        """Whether the clock has not reached the moment the answer changes with it alone.
        # Note: asked of `clock.now()`, the clock days are cut by, so that a learner's day turns
        # whichever clock a test moves; in production both are the same clock."""
        return self.until == math.inf or clock.now().timestamp() < self.until

    def due_early(self, now: float) -> bool:
        """Whether a reader at `now` should recompute this entry before it expires (XFetch)."""
        beta, random = cache_settings.XFETCH_BETA, clock.current.random
        return recompute_early(now=now, expiry=self.expires_at, delta=self.compute_seconds, beta=beta, random=random)

    def plain(self) -> bytes:
        return zlib.decompress(self.body) if self.compressed else self.body


def recompute_early(*, now: float, expiry: float, delta: float, beta: float, random: Callable[[], float]) -> bool:
    if now >= expiry:
        return True
    draw = random()
    if draw <= 0.0:  # ln(0) is -inf: a certain recompute, as the formula's limit says
        return True
    return now - delta * beta * math.log(draw) >= expiry


class CacheMiss(Exception):
    """No entry of the current namespace token. `version` is the token to store the recomputed
    entry under: read before computing, so an entry computed from rows older than a write is
    tagged with a token that write has already replaced."""

    def __init__(self, version: str | None):
        self.version = version


def client():
    return redis_layer.client(redis_layer.CACHE)


# `guarded(user_id, "lookup", lookup, user_id=...)`: a call of the cache about one user behind the
# Redis layer's breaker (on a cluster, that of the user's node); RedisUnavailable when Redis is
# down or the circuit open (the caller serves from the database).
def guarded(user_id: int, operation: str, fn, /, *args, **kwargs):
    return redis_layer.call_for(user_id, redis_layer.CACHE, operation, fn, *args, **kwargs)


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def encode(entry: Entry) -> bytes:
    header = {"v": entry.version, "c": entry.created_at, "d": entry.compute_seconds, "e": entry.etag}
    if entry.expires_at != math.inf:
        header["x"] = entry.expires_at
    if entry.until != math.inf:
        header["u"] = entry.until
    body = entry.body
    if len(body) >= cache_settings.COMPRESS_MIN_BYTES:
        # Note: level 1 is much faster than the default for most of the gain on repetitive JSON.
        header["z"], body = 1, zlib.compress(body, 1)
    return orjson.dumps(header) + b"\n" + body


def decode(raw: bytes, *, inflate: bool = True) -> Entry:
    """The entry; with `inflate` off a compressed body stays compressed (`Entry.plain()` inflates
    it), for a reader that may not need the body at all."""
    header, _, body = raw.partition(b"\n")
    meta = orjson.loads(header)
    compressed = bool(meta.get("z"))
    return Entry(
        version=meta["v"],
        created_at=meta["c"],
        compute_seconds=meta["d"],
        etag=meta["e"],
        body=zlib.decompress(body) if compressed and inflate else body,
        expires_at=meta.get("x", math.inf),
        compressed=compressed and not inflate,
        until=meta.get("u", math.inf),
    )


def lookup_command(*, user_id: int, namespace: str, params: dict) -> tuple:
    """The one MGET of a lookup (namespace token, entry): both keys share the user's hash tag."""
    return ("MGET", keys.namespace_key(user_id, namespace), keys.entry_key(user_id, namespace, params))


def lookup(*, user_id: int, namespace: str, params: dict) -> Entry:
    """The entry of the current namespace token (fresh or, within the stale window, expired), or
    CacheMiss. One round trip."""
    _, *wanted = lookup_command(user_id=user_id, namespace=namespace, params=params)
    return entry_from(client().mget(*wanted))


def entry_from(replies: list, *, inflate: bool = True) -> Entry:
    """The entry of a lookup's replies, or CacheMiss."""
    version, raw = replies
    version = version.decode() if version is not None else None
    if version is not None and raw is not None:
        entry = decode(raw, inflate=inflate)
        if entry.version == version:
            return entry
    raise CacheMiss(version)


def claim_version(*, user_id: int, namespace: str) -> str:
    """The namespace's token, creating a fresh random one if it is missing (never a counter: a
    token that restarted at 0 after an eviction could match entries older than a write)."""
    fresh = secrets.token_hex(8)
    existing = client().set(
        keys.namespace_key(user_id, namespace), fresh, nx=True, get=True, ex=cache_settings.NAMESPACE_TTL
    )
    return existing.decode() if existing is not None else fresh


def store(
    *,
    user_id: int,
    namespace: str,
    params: dict,
    version: str,
    body: bytes,
    compute_seconds: float,
    until: float = math.inf,
) -> Entry | None:
    """The entry, stored; None, and nothing stored, when it is over MAX_ENTRY_BYTES (compressed).
    `until` (epoch seconds of `clock.now()`): the moment the answer changes with the clock alone,
    which caps its freshness, its stale window and its life in Redis."""
    now, ttl = clock.timestamp(), ttl_for(namespace)
    left = until - clock.now().timestamp()  # Note: infinite without a cap
    entry = Entry(
        version=version,
        created_at=now,
        compute_seconds=compute_seconds,
        etag=etag_for(body),
        body=body,
        expires_at=now + min(ttl, left),
        until=until,
    )
    encoded = encode(entry)
    if len(encoded) > cache_settings.MAX_ENTRY_BYTES:
        OVERSIZE.labels(endpoint=namespace).inc()
        logger.info("cache: a %s answer of %d bytes is served but not stored", namespace, len(encoded))
        return None
    kept = ttl + cache_settings.STALE_SECONDS if left == math.inf else min(ttl + cache_settings.STALE_SECONDS, left)
    client().set(keys.entry_key(user_id, namespace, params), encoded, ex=max(1, math.ceil(kept)))
    return entry


def bump(*, user_id: int, namespaces) -> None:
    """Give each namespace a new random token: every entry tagged with the old one is dead. O(1)
    whatever the number of entries; they are left to their TTL or to LRU eviction."""
    pipe = client().pipeline(transaction=False)
    queue_bump(pipe, user_id=user_id, namespaces=namespaces)
    redis_layer.execute_durably(redis_layer.CACHE, pipe)


def bumps_channel() -> str:
    # Pub/sub channels are shared by all databases of a server: prefix like the keys.
    return f"{settings.REDIS_KEY_NAMESPACE}:cache:bumps"


def queue_bump(pipe, *, user_id: int, namespaces) -> None:
    """Queue the bump, and with the L1 on, its announcement to every process's L1 (same round trip)."""
    for namespace in namespaces:
        pipe.set(keys.namespace_key(user_id, namespace), secrets.token_hex(8), ex=cache_settings.NAMESPACE_TTL)
    if cache_settings.L1_ENABLED:
        message = f"{user_id}:{','.join(sorted(namespaces))}"
        if redis_layer.route(redis_layer.CACHE).cluster:
            # Note: sharded pub/sub, on the channel's one shard, instead of a PUBLISH that the
            # cluster bus copies to every node.
            pipe.execute_command("SPUBLISH", bumps_channel(), message)
        else:
            pipe.publish(bumps_channel(), message)
