"""Entries in Redis: their keys, and the rendered body behind a one-line JSON header.

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
import re
import secrets
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

import orjson
from django.conf import settings

from utils import clock, redis_layer
from utils.cache_utils.conf import ENTRY_FORMAT, cache_settings, ttl_for
from utils.cache_utils.metrics import OVERSIZE
from utils.redis_layer import user_tag

logger = logging.getLogger(__name__)


# --- Keys: injective, glob-safe, Redis Cluster friendly -----------------------------------------
#
# A component is kept as is when it is plain ASCII (`[A-Za-z0-9_.~-]`), otherwise percent-encoded
# (`quote(..., safe="")`), which maps every other character — `:` `*` `?` `[` `]` `{` `}`, spaces,
# control characters, non-ASCII, `%` itself — to `%XX`. Percent-encoding is a bijection, so two
# different parameter sets never give one key, and no user text can add a separator, a glob
# character or a hash tag. `!` never appears in encoded text, so it marks the non-string values
# and the strings that would otherwise read like an int or a date (`!s5` is the string "5").

MAX_KEY_LENGTH = 200
_MARKERS = {None: "!n", True: "!t", False: "!f"}
_LOOKS_TYPED = re.compile(r"-?[0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _component(value) -> str:
    if value is None or isinstance(value, bool):
        return _MARKERS[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):  # datetimes too, whose isoformat holds ":"
        return quote(value.isoformat(), safe="")
    if isinstance(value, str):
        if not value:
            return "!e"
        return f"!s{value}" if _LOOKS_TYPED.fullmatch(value) else quote(value, safe="")
    raise TypeError(f"cache key components must be str, int, bool, date or None, not {type(value).__name__}")


def generate_cache_key(prefix: str, *args, **kwargs) -> str:
    """`prefix:arg1:arg2:k1=v1:k2=v2` with kwargs sorted; the part after the prefix is replaced by
    `#<blake2b>` when the key would pass 200 characters (`#` never appears unhashed)."""
    parts = [_component(arg) for arg in args] + [
        f"{quote(name, safe='')}={_component(kwargs[name])}" for name in sorted(kwargs)
    ]
    variable = ":".join(parts)
    key = f"{prefix}:{variable}" if parts else prefix
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{prefix}:#{hashlib.blake2b(variable.encode(), digest_size=20).hexdigest()}"


def full_key(key: str) -> str:
    """Prefix and release: `resee:api:<format>.<release>:<key>`; a new release reads no old entry."""
    return redis_layer.make_key(redis_layer.CACHE, key, version=f"{ENTRY_FORMAT}.{cache_settings.RELEASE}")


@redis_layer.memoized_key
def namespace_key(user_id: int, namespace: str) -> str:
    return full_key(f"{user_tag(user_id)}:ns:{namespace}")


def entry_key(user_id: int, namespace: str, params: dict) -> str:
    return _entry_key(user_id, namespace, typed(params))


def typed(params: dict) -> tuple:
    """`params` as a hashable memo key that keeps each value's type: True == 1, but their keys differ."""
    return tuple([(name, value.__class__, value) for name, value in params.items()])


@redis_layer.memoized_key  # Note: encoding every parameter on every hit showed in its profile
def _entry_key(user_id: int, namespace: str, items: tuple) -> str:
    return full_key(generate_cache_key(f"{user_tag(user_id)}:{namespace}", **{name: value for name, _, value in items}))


def lock_key(user_id: int, namespace: str, version: str, params: dict) -> str:
    """The recompute lock of one entry under one namespace token: after a bump, requests compete
    for a new lock instead of waiting on a computation whose result is already dead."""
    return full_key(generate_cache_key(f"{user_tag(user_id)}:lock:{namespace}", version, **params))


# --- Entries -------------------------------------------------------------------------------------


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

    def serves(self, now: float) -> bool:
        """Whether a reader at `now` serves this entry as it is: fresh, and not drawn to recompute
        it before it expires (XFetch, which always recomputes an expired entry)."""
        beta, random = cache_settings.XFETCH_BETA, clock.random
        expiry, delta = self.expires_at, self.compute_seconds
        return self.holds() and not recompute_early(now=now, expiry=expiry, delta=delta, beta=beta, random=random)

    def plain(self) -> bytes:
        return zlib.decompress(self.body) if self.compressed else self.body


class LocalCache:
    """Entries kept in this process: an LRU bounded in entries and bytes, each entry kept at most
    `ttl_seconds`. The L1 (utils.cache_utils.l1) is one; the read path keeps the answers it cut
    out of shared entries in another."""

    def __init__(self, *, max_entries: int, max_bytes: int, ttl_seconds: float, clock=time.monotonic):
        self.max_entries, self.max_bytes, self.ttl_seconds = max_entries, max_bytes, ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[tuple, tuple[float, Entry]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        # Set only while this process is subscribed to the bump channel: an L1 that could miss
        # another process's bump must not serve.
        self.live = threading.Event()

    def get(self, key: tuple) -> Entry | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if self._clock() >= found[0]:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return found[1]

    def put(self, key: tuple, entry: Entry) -> None:
        if len(entry.body) > self.max_bytes:
            return
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (self._clock() + self.ttl_seconds, entry)
            self._bytes += len(entry.body)
            while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))

    def evict(self, user_id: int, namespaces) -> None:
        with self._lock:
            for key in [key for key in self._entries if key[0] == user_id and key[1] in namespaces]:
                self._drop(key)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: tuple) -> None:
        self._bytes -= len(self._entries.pop(key)[1].body)


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
    return ("MGET", namespace_key(user_id, namespace), _entry_key(user_id, namespace, typed(params)))


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
        namespace_key(user_id, namespace), fresh, nx=True, get=True, ex=cache_settings.NAMESPACE_TTL
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
    client().set(entry_key(user_id, namespace, params), encoded, ex=max(1, math.ceil(kept)))
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
        pipe.set(namespace_key(user_id, namespace), secrets.token_hex(8), ex=cache_settings.NAMESPACE_TTL)
    if cache_settings.L1_ENABLED:
        message = f"{user_id}:{','.join(sorted(namespaces))}"
        if redis_layer.route(redis_layer.CACHE).cluster:
            # Note: sharded pub/sub, on the channel's one shard, instead of a PUBLISH that the
            # cluster bus copies to every node.
            pipe.execute_command("SPUBLISH", bumps_channel(), message)
        else:
            pipe.publish(bumps_channel(), message)
