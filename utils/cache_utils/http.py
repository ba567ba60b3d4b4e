"""The read-through entry point the views use, as an HttpResponse with X-Cache, ETag /
If-None-Match, Cache-Control and Vary headers.

    fresh entry, not due for early recompute (XFetch)         -> HIT
    missing, expired or due: take the entry's recompute lock
        got it                                                -> compute, store, MISS
        another request holds it: entry still fresh           -> HIT
                                  expired within STALE_SECONDS -> STALE
                                  nothing usable: wait up to LOCK_WAIT_MS for its result -> HIT,
                                  else compute ourselves      -> MISS
    Redis down, slow, circuit open, or cache disabled         -> compute, BYPASS
"""

import functools
import logging
import time
from typing import NamedTuple

import orjson
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags

from utils import prefetch, redis_layer
from utils.cache_utils import keys, l1, reads, runtime, singleflight, store
from utils.cache_utils.conf import cache_setting
from utils.cache_utils.freshness import recompute_early
from utils.cache_utils.metrics import COMPUTE_SECONDS, LOCK_WAITS, LOOKUP_SECONDS, REQUEST_SECONDS, REQUESTS
from utils.cache_utils.reads import CachedRead
from utils.cache_utils.store import guarded
from utils.redis_layer import RedisUnavailable

logger = logging.getLogger(__name__)

HIT, MISS, STALE, BYPASS = "HIT", "MISS", "STALE", "BYPASS"


def cached_json(request, read: CachedRead) -> HttpResponse:
    """Serve `read` as JSON through the cache: its `compute` runs only on a miss, after the
    namespace token was read."""
    started = time.perf_counter()
    response = _serve(request, read)
    _count(read.namespace, response["X-Cache"], started)
    return response


def serve_fresh(request) -> HttpResponse | None:
    """The hit `serve` would answer, straight from the request's prefetch; None when anything
    more is needed (nothing planned, Redis not asked or down, a miss, an entry stale or due for
    early recompute), and `serve` then goes on from this verdict."""
    started = time.perf_counter()
    read = prefetch.planned_read(request)
    looked_up = reads.looked_up(read) if read is not None else None
    try:
        asked = prefetch.lookup_replies(request, looked_up.namespace, looked_up.params) if read is not None else None
        # Note: a derived answer known by its body's ETag needs no body: left compressed until asked.
        entry = store.entry_from(asked[0], inflate=read.derived_from is None) if asked is not None else None
    except (RedisUnavailable, store.CacheMiss):
        return None
    if entry is None or not _is_hit(request, entry, runtime.current.clock()):
        return None
    if read.derived_from is None:
        served = Served(HIT, entry.body, entry.etag)
    elif (served := _derive(read, HIT, entry)) is None:
        return None
    _lookup_seconds(read.namespace).observe(asked[1])
    response = _respond(request, read.namespace, *served)
    _count(read.namespace, HIT, started)
    return response


def _count(namespace: str, result: str, started: float) -> None:
    counter, seconds = _request_metrics(namespace, result)
    counter.inc()
    seconds.observe(time.perf_counter() - started)


class Served(NamedTuple):
    result: str  # HIT, MISS, STALE or BYPASS
    body: bytes
    etag: str | None  # None: computed from the body when the answer is built

    def plain(self) -> bytes:
        return self.body


def _serve(request, read: CachedRead) -> HttpResponse:
    derivation = read.derived_from
    if derivation is not None and cache_setting("ENABLED"):
        # Note: served from the shared entry when it holds the answer, else from the read's own.
        # (With the cache off the read's own computation is the cheaper one.)
        shared = _through(request, derivation.base)
        derived = _derive(read, shared.result, shared)
        if derived is not None:
            return _respond(request, read.namespace, *derived)
    return _respond(request, read.namespace, *_through(request, read))


def _through(request, read: CachedRead) -> Served:
    if cache_setting("ENABLED"):
        try:
            return _read_through(request, read.user_id, read.namespace, read.params, read.compute)
        except RedisUnavailable:
            pass
    return Served(BYPASS, render(read.namespace, read.compute)[0], None)


def _derive(read: CachedRead, result: str, shared: Served | store.Entry) -> Served | None:
    """The answer `read.derived_from` takes out of the shared entry's body, or None when it cannot.

    # Note: the answer is a pure function of the shared body and the read's parameters, so it is
    # kept by the body's ETag: a hit of a page or a category parses and cuts the shared body once
    # per process, not per request (a sixth of a content hit). A new body has a new ETag; the
    # entry itself is still looked up, token and all, on every request."""
    key = (read.user_id, read.namespace, shared.etag, keys.typed(read.params)) if shared.etag else None
    known = _derived.get(key) if key is not None else None
    if known is None:
        payload = read.derived_from.project(orjson.loads(shared.plain()))
        body = orjson.dumps(payload) if payload is not None else b""
        etag = store.etag_for(body) if body else ""
        known = store.Entry(version="", created_at=0.0, compute_seconds=0.0, etag=etag, body=body)
        if key is not None:
            _derived.put(key, known)  # Note: "cannot" (an empty ETag) is kept too: one parse per body
    return Served(result, known.body, known.etag) if known.etag else None


# Derived answers by (user, namespace, shared body's ETag, parameters), empty where the body cannot
# give one; an LRU bounded in entries and bytes, each kept a few minutes.
_derived = l1.LocalCache(max_entries=2048, max_bytes=16 * 1024 * 1024, ttl_seconds=300)


def _read_through(request, user_id: int, namespace: str, params: dict, compute) -> Served:
    now, stale = runtime.current.clock(), None
    local = l1.local_cache()
    # Note: the entry key is built only for the L1; the lookup's keys came with the prefetch.
    local_key = (user_id, namespace, keys.entry_key(user_id, namespace, params)) if local is not None else None
    if local is not None and redis_layer.healthy(redis_layer.CACHE, user_id):
        entry = local.get(local_key)
        if entry is not None and entry.is_fresh(now):
            return Served(HIT, entry.body, entry.etag)
    try:
        entry, planned = _first_lookup(request, user_id, namespace, params)
    except store.CacheMiss as miss:
        version = miss.version or guarded(user_id, "claim", store.claim_version, user_id=user_id, namespace=namespace)
    else:
        # Note: the round trip's entry keeps the verdict the request made of it; an own lookup is judged here.
        fresh = _is_hit(request, entry, now) if planned else entry.is_fresh(now) and not _due_early(entry, now)
        if fresh:
            if local is not None:
                local.put(local_key, entry)
            return Served(HIT, entry.body, entry.etag)
        version, stale = entry.version, entry

    lock = keys.lock_key(user_id, namespace, version, params)
    token = guarded(user_id, "lock", singleflight.acquire, lock, ttl_ms=cache_setting("LOCK_TTL_MS"))
    if token is None:
        if stale is not None:
            # Another request is recomputing; the entry still carries the current token.
            return Served(HIT if stale.is_fresh(now) else STALE, stale.body, stale.etag)
        waited = _wait_for_fresh(user_id, namespace, params, version, wait_ms=cache_setting("LOCK_WAIT_MS"))
        if waited is not None:
            return Served(HIT, waited.body, waited.etag)
    elif stale is None:
        # Note: the previous holder may have stored and released between our lookup and our lock.
        landed = _wait_for_fresh(user_id, namespace, params, version, wait_ms=0)
        if landed is not None:
            release(user_id, lock, token)
            return Served(HIT, landed.body, landed.etag)
    try:
        return _compute_and_store(user_id, namespace, params, compute, version)
    finally:
        if token is not None:
            release(user_id, lock, token)


def _first_lookup(request, user_id: int, namespace: str, params: dict) -> tuple[store.Entry, bool]:
    """The lookup the request's one round trip made (utils.prefetch), else one of its own; and
    whether it was the round trip's (whose verdict the request keeps)."""
    asked = prefetch.lookup_replies(request, namespace, params)
    if asked is None:
        return guarded(user_id, "lookup", _lookup, user_id, namespace, params), False
    replies, seconds = asked
    _lookup_seconds(namespace).observe(seconds)  # the entry waited for the whole round trip
    return store.entry_from(replies), True


def serve(view, request) -> HttpResponse:
    """The GET of a view that describes its answer in `cached_read(request)`: the read the
    request's prefetch already built, or a new one."""
    return cached_json(request, prefetch.planned_read(request) or view.cached_read(request))


def _lookup(user_id: int, namespace: str, params: dict) -> store.Entry:
    started = time.perf_counter()
    try:
        return store.lookup(user_id=user_id, namespace=namespace, params=params)
    finally:
        _lookup_seconds(namespace).observe(time.perf_counter() - started)


def _is_hit(request, entry: store.Entry, now: float) -> bool:
    """Fresh and not due for early recompute, judged once per request: `serve_fresh` may have
    judged this very entry already, and a second XFetch draw would halve its chances."""
    hit = prefetch.verdict(request)
    if hit is None:
        hit = entry.is_fresh(now) and not _due_early(entry, now)
        prefetch.keep_verdict(request, hit)
    return hit


def _due_early(entry: store.Entry, now: float) -> bool:
    return recompute_early(
        now=now,
        expiry=entry.expires_at,
        delta=entry.compute_seconds,
        beta=cache_setting("XFETCH_BETA"),
        random=runtime.current.random,
    )


def _wait_for_fresh(user_id: int, namespace: str, params: dict, version: str, *, wait_ms: int) -> store.Entry | None:
    """The fresh entry of this token, polling for at most `wait_ms` while a lock holder computes
    it (0: look once)."""
    if wait_ms:
        LOCK_WAITS.labels(endpoint=namespace).inc()
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        try:
            entry = guarded(user_id, "wait", _lookup, user_id, namespace, params)
        except store.CacheMiss:
            entry = None
        if entry is not None and entry.version == version and entry.is_fresh(runtime.current.clock()):
            return entry
        if time.monotonic() >= deadline:
            return None
        runtime.current.sleep(cache_setting("LOCK_POLL_MS") / 1000)


def _compute_and_store(user_id: int, namespace: str, params: dict, compute, version: str) -> Served:
    body, entry = fill(CachedRead(user_id, namespace, params, compute), version)
    if entry is None:
        return Served(MISS, body, None)
    if (local := l1.local_cache()) is not None:
        local.put((user_id, namespace, keys.entry_key(user_id, namespace, params)), entry)
    return Served(MISS, body, entry.etag)


def fill(read: CachedRead, version: str) -> tuple[bytes, store.Entry | None]:
    """The miss step, for a request and for the warm-up alike: compute, render and store under
    `version` (read before computing). The entry is None when Redis could not take it."""
    body, seconds = render(read.namespace, read.compute)
    try:
        entry = guarded(
            read.user_id,
            "store",
            store.store,
            user_id=read.user_id,
            namespace=read.namespace,
            params=read.params,
            version=version,
            body=body,
            compute_seconds=seconds,
        )
    except RedisUnavailable:
        return body, None
    return body, entry


def release(user_id: int, lock: str, token: str) -> None:
    try:
        guarded(user_id, "unlock", singleflight.release, lock, token)
    except RedisUnavailable:
        pass  # the lock expires by itself after LOCK_TTL_MS


def render(namespace: str, compute) -> tuple[bytes, float]:
    """The one way a body is rendered (orjson), timed into resee_cache_compute_seconds."""
    started = time.perf_counter()
    body = orjson.dumps(compute())
    seconds = time.perf_counter() - started
    COMPUTE_SECONDS.labels(endpoint=namespace).observe(seconds)
    return body, seconds


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = parse_etags(header)
    return "*" in wanted or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in wanted}


# Note: resolving a labelled child costs a lock and a dict lookup per call; bind each once.
@functools.cache
def _request_metrics(namespace: str, result: str):
    labels = {"endpoint": namespace, "result": result.lower()}
    return REQUESTS.labels(**labels), REQUEST_SECONDS.labels(**labels)


@functools.cache
def _lookup_seconds(namespace: str):
    return LOOKUP_SECONDS.labels(endpoint=namespace)


def _respond(request, namespace: str, result: str, body: bytes, etag: str | None = None) -> HttpResponse:
    etag = etag or store.etag_for(body)
    # Note: META, not request.headers, which copies every header into a new mapping on first use.
    if _etag_matches(request.META.get("HTTP_IF_NONE_MATCH"), etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["X-Cache"] = result
    # Per-user answers: a browser may keep them but must revalidate; no shared proxy may store them.
    response["Cache-Control"] = "private, no-cache"
    response["Vary"] = "Authorization"  # a response of our own making: no Vary to merge with yet
    return response
