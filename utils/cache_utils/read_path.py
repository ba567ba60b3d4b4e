"""The read path: how a cached GET is answered, hit or miss, in one place.

A view whose GET is a cached answer mixes in `CachedReadMixin` and describes that answer in
`cached_read(request)` (a `CachedRead`, built by its app's selectors). DRF's own dispatch runs,
in its own order; the mixin fills three of its hooks so that everything a request asks Redis
travels in one round trip:

    initial                  content negotiation (406), versioning               DRF's own
    perform_authentication   the token, verified without Redis (401)
                             the read described (a bad parameter's 400 is kept for later)
                             ONE ROUND TRIP: HMGET revocation, INCR+EXPIRE of each throttle
                             counter, MGET namespace token + entry (skipped when the L1 holds it)
                             a revoked token: 401, its counts taken back
    check_permissions                                                            DRF's own
    check_throttles          the counts the round trip brought (429)
    get                      the kept 400; then the verdict (`answer`):
                               fresh entry, not due for early recompute (XFetch) -> HIT
                               missing, expired or due: take the entry's recompute lock
                                 got it                               -> compute, store, MISS
                                 another request holds it: entry still fresh   -> HIT
                                   expired within STALE_SECONDS                -> STALE
                                   nothing usable: wait up to LOCK_WAIT_MS     -> HIT,
                                   else compute ourselves                      -> MISS
                               Redis down, slow, circuit open, or cache off    -> compute, BYPASS

The round trip's replies are a value (`Trip`) the view keeps for the request, as DRF keeps
`format_kwarg`. Other methods (a POST on the same view) go through DRF's hooks unchanged. The
path replaces `authenticate` and `allow_request` for cached GETs only: `check_read_path` refuses,
at start-up, a cached view whose classes override what it replaces.
"""

import functools
import inspect
import logging
import math
import time
import zlib
from typing import NamedTuple

import orjson
from django.core.checks import Error, register
from django.http import HttpResponse, HttpResponseNotModified
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.http import parse_etags
from rest_framework.exceptions import APIException, NotAuthenticated
from rest_framework.settings import api_settings

from utils import clock, redis_layer
from utils.cache_utils import l1, singleflight, store
from utils.cache_utils.conf import cache_settings
from utils.cache_utils.metrics import COMPUTE_SECONDS, LOCK_WAITS, LOOKUP_SECONDS, REQUEST_SECONDS, REQUESTS
from utils.cache_utils.reads import CachedRead
from utils.cache_utils.store import guarded
from utils.redis_layer import CACHE, REVOCATION, THROTTLE, RedisUnavailable

logger = logging.getLogger(__name__)

HIT, MISS, STALE, BYPASS = "HIT", "MISS", "STALE", "BYPASS"
DOWN = object()  # a reply the round trip could not get: its Redis is down or its circuit open


class Counter(NamedTuple):
    """One throttle's counter of this request: its key, the count after this request's INCR (None:
    Redis could not count it) and the moment its window was cut at."""

    throttle: object
    key: str
    count: int | None
    now: float


class Trip(NamedTuple):
    """What a cached GET learnt before its view answers: the read (or the 400 its parameters
    earned), its throttles' counters, and the lookup of the read's first entry (its MGET replies,
    DOWN, an Entry the L1 held, or None when nothing was asked) with the round trip's seconds."""

    read: CachedRead | None
    invalid: APIException | None
    counters: list[Counter]
    looked: object
    seconds: float


class CachedReadMixin:
    """GET (and HEAD) of a cached answer, through the read path; see the module docstring."""

    trip: Trip | None = None

    def cached_read(self, request) -> CachedRead:
        raise NotImplementedError

    def perform_authentication(self, request) -> None:
        if request.method not in ("GET", "HEAD"):
            return super().perform_authentication(request)
        (authenticator,) = self.get_authenticators()
        try:
            found = authenticator.verify(request)
            if found is not None:
                request.user, request.auth = found
                self.trip = _round_trip(self, request, authenticator)
        except APIException:
            _anonymous(request)  # Note: as DRF leaves a request its authenticator refused
            raise
        if found is None:  # no token: the permissions say 401
            _anonymous(request)
        return None

    def check_throttles(self, request) -> None:
        if self.trip is None:
            return super().check_throttles(request)
        refused = [c.throttle for c in self.trip.counters if not c.throttle.allow_count(c.count, c.now)]
        if refused:
            self.throttled(request, max(throttle.wait() for throttle in refused))
        return None

    def get(self, request, *args, **kwargs) -> HttpResponse:
        if self.trip is None:
            raise NotAuthenticated()  # Note: every cached answer is one user's
        if self.trip.invalid is not None:
            raise self.trip.invalid
        return answer(request, self.trip.read, self.trip.looked, self.trip.seconds)


def _anonymous(request) -> None:
    """As DRF leaves a request no authenticator accepted (settings.UNAUTHENTICATED_USER)."""
    request.user, request.auth = api_settings.UNAUTHENTICATED_USER(), None


def _round_trip(view, request, authenticator) -> Trip:
    """Revocation, throttle counters and lookup in one round trip; a revoked token is refused here."""
    try:
        read, invalid = view.cached_read(request), None
    except APIException as exc:
        read, invalid = None, exc  # Note: raised once the checks have passed, in DRF's order
    at = clock.timestamp()
    windows = [(throttle, throttle.window_key(request, view, at)) for throttle in view.get_throttles()]
    windows = [(throttle, found) for throttle, found in windows if found is not None]
    commands = {REVOCATION: [authenticator.revocation_command(request.auth)]}
    if windows:
        commands[THROTTLE] = [cmd for _, (key, ttl, _) in windows for cmd in (("INCR", key), ("EXPIRE", key, ttl))]
    # The entry looked up with the round trip: the shared one's, when there is one; none when the
    # cache is off or the parameters were bad.
    first = looked = None
    if read is not None and cache_settings.ENABLED:
        first = read.derived_from.base if read.derived_from is not None else read
        looked = _local_entry(first) if cache_settings.L1_ENABLED else None
    if first is not None and looked is None:
        commands[CACHE] = [store.lookup_command(user_id=first.user_id, namespace=first.namespace, params=first.params)]
    started = time.perf_counter()
    replies = redis_layer.gather("request", commands, user_id=request.user.id)
    seconds = time.perf_counter() - started
    counts = replies[THROTTLE][::2] if THROTTLE in replies else [None] * len(windows)
    counters = [Counter(throttle, key, n, at) for (throttle, (key, _, _)), n in zip(windows, counts, strict=True)]
    if authenticator.is_revoked(request.auth, replies[REVOCATION][0] if REVOCATION in replies else None):
        _refund(request.user.id, counters)
        authenticator.refuse_revoked()
    if CACHE in commands:
        looked = replies[CACHE][0] if CACHE in replies else DOWN
    return Trip(read, invalid, counters, looked, seconds)


def _local_entry(read: CachedRead) -> store.Entry | None:
    """The L1's fresh copy of the read's entry, when it may serve (subscribed, Redis healthy)."""
    local = l1.local_cache()
    if local is None or not redis_layer.healthy(CACHE, read.user_id):
        return None
    entry = local.get(_local_key(read))
    return entry if entry is not None and entry.is_fresh(clock.timestamp()) else None


def _refund(user_id: int, counters: list[Counter]) -> None:
    """A revoked token must not use up its user's rate: its counts are taken back (should Redis be
    gone by now, they stay: one window a little tighter)."""
    counted = [("DECR", counter.key) for counter in counters if counter.count is not None]
    if counted:
        redis_layer.gather("refund", {THROTTLE: counted}, user_id=user_id)


# --- the verdict ---------------------------------------------------------------------------------


class Served(NamedTuple):
    result: str  # HIT, MISS, STALE or BYPASS
    body: bytes  # zlib-compressed when `compressed` (a shared entry's, until a cut needs it)
    etag: str | None  # None: computed from the body when the answer is built
    compressed: bool = False

    def plain(self) -> bytes:
        return zlib.decompress(self.body) if self.compressed else self.body


def answer(request, read: CachedRead, looked: object = None, seconds: float = 0.0) -> HttpResponse:
    """`read` as JSON through the cache, from the round trip's lookup of its first entry
    (`looked`, see `Trip`; None: look it up now). Its `compute` runs only on a miss, after the
    namespace token was read."""
    started = time.perf_counter()
    if looked is not None and looked is not DOWN and not isinstance(looked, store.Entry):
        _lookup_seconds(read.namespace).observe(seconds)  # the entry waited for the whole round trip
    if not cache_settings.ENABLED:
        served = Served(BYPASS, render(read)[0], None)
    elif read.derived_from is None:
        served = _through(read, looked)
    else:
        # Note: served from the shared entry when it holds the answer, else from the read's own. A
        # shared body stays compressed: a cut known by its ETag needs none of it.
        shared = _through(read.derived_from.base, looked, inflate=False)
        served = _derive(read, shared) or _through(read, None)
    response = _respond(request, served)
    counter, timer = _request_metrics(read.namespace, served.result)
    counter.inc()
    timer.observe(time.perf_counter() - started)
    return response


def _through(read: CachedRead, looked: object, *, inflate: bool = True) -> Served:
    """The read's answer from its entry: the one the round trip found (`looked`, see `Trip`), or
    when it asked nothing, a lookup of its own. Fresh and not due for early recomputation: HIT;
    else recomputed (`_recompute`); Redis down or its circuit open: computed, BYPASS."""
    if isinstance(looked, store.Entry):  # the L1's, fresh
        return Served(HIT, looked.plain(), looked.etag)
    now = clock.timestamp()
    try:
        if looked is DOWN:
            raise RedisUnavailable("the cache lookup of the request's round trip")
        try:
            entry = (
                guarded(read.user_id, "lookup", _lookup, read)
                if looked is None
                else store.entry_from(looked, inflate=inflate)
            )
        except store.CacheMiss as miss:
            user_id, namespace = read.user_id, read.namespace
            version = miss.version or guarded(
                user_id, "claim", store.claim_version, user_id=user_id, namespace=namespace
            )
            return _recompute(read, version, None, now)
        if entry.serves(now):
            if cache_settings.L1_ENABLED:
                _keep_local(read, entry)
            return Served(HIT, entry.body, entry.etag, entry.compressed)
        # Note: an entry past the moment its answer changes with the clock is no stale answer.
        return _recompute(read, entry.version, entry if entry.holds() else None, now)
    except RedisUnavailable:
        return Served(BYPASS, render(read)[0], None)


def _derive(read: CachedRead, shared: Served) -> Served | None:
    """The answer `read.derived_from` takes out of the shared entry's body, or None when it cannot.

    # Note: the answer is a pure function of the shared body and the read's parameters, so it is
    # kept by the body's ETag: a page or a category is parsed and cut out of a shared body once
    # per process, not per request. A new body has a new ETag; the entry itself is still looked
    # up, token and all, on every request."""
    key = (read.user_id, read.namespace, shared.etag, store.typed(read.params)) if shared.etag else None
    known = _derived.get(key) if key is not None else None
    if known is None:
        payload = read.derived_from.project(orjson.loads(shared.plain()))
        body = orjson.dumps(payload) if payload is not None else b""
        etag = store.etag_for(body) if body else ""
        known = store.Entry(version="", created_at=0.0, compute_seconds=0.0, etag=etag, body=body)
        if key is not None:
            _derived.put(key, known)  # Note: "cannot" (an empty ETag) is kept too: one parse per body
    return Served(shared.result, known.body, known.etag) if known.etag else None


# Derived answers by (user, namespace, shared body's ETag, parameters), empty where the body cannot
# give one; an LRU bounded in entries and bytes, each kept a few minutes.
_derived = store.LocalCache(max_entries=2048, max_bytes=16 * 1024 * 1024, ttl_seconds=300)


def _recompute(read: CachedRead, version: str, stale: store.Entry | None, now: float) -> Served:
    """Single flight: one request computes the entry of this token; the others serve the stale
    entry, or wait for the computation's result."""
    lock = store.lock_key(read.user_id, read.namespace, version, read.params)
    token = guarded(read.user_id, "lock", singleflight.acquire, lock, ttl_ms=cache_settings.LOCK_TTL_MS)
    if token is None:
        if stale is not None:
            # Another request is recomputing; the entry still carries the current token.
            return Served(HIT if stale.is_fresh(now) else STALE, stale.plain(), stale.etag)
        waited = _wait_for_fresh(read, version, wait_ms=cache_settings.LOCK_WAIT_MS)
        if waited is not None:
            return Served(HIT, waited.body, waited.etag)
    elif stale is None:
        # Note: the previous holder may have stored and released between our lookup and our lock.
        landed = _wait_for_fresh(read, version, wait_ms=0)
        if landed is not None:
            release(read.user_id, lock, token)
            return Served(HIT, landed.body, landed.etag)
    try:
        body, entry = fill(read, version)
        if cache_settings.L1_ENABLED and entry is not None:
            _keep_local(read, entry)
        return Served(MISS, body, entry.etag if entry is not None else None)
    finally:
        if token is not None:
            release(read.user_id, lock, token)


def _local_key(read: CachedRead) -> tuple:
    return read.user_id, read.namespace, store.entry_key(read.user_id, read.namespace, read.params)


def _keep_local(read: CachedRead, entry: store.Entry) -> None:
    if (local := l1.local_cache()) is not None:
        local.put(_local_key(read), entry)


def _lookup(read: CachedRead) -> store.Entry:
    started = time.perf_counter()
    try:
        return store.lookup(user_id=read.user_id, namespace=read.namespace, params=read.params)
    finally:
        _lookup_seconds(read.namespace).observe(time.perf_counter() - started)


def _wait_for_fresh(read: CachedRead, version: str, *, wait_ms: int) -> store.Entry | None:
    """The fresh entry of this token, polling for at most `wait_ms` while a lock holder computes
    it (0: look once). None at once when the namespace's token is no longer `version`: a write
    has outdated whatever the holder stores."""
    if wait_ms:
        LOCK_WAITS.labels(endpoint=read.namespace).inc()
    deadline = time.monotonic() + wait_ms / 1000
    while True:
        try:
            entry = guarded(read.user_id, "wait", _lookup, read)
        except store.CacheMiss as miss:
            entry, current = None, miss.version
        else:
            current = entry.version
        if current != version:
            return None
        if entry is not None and entry.is_fresh(clock.timestamp()):
            return entry
        if time.monotonic() >= deadline:
            return None
        clock.sleep(cache_settings.LOCK_POLL_MS / 1000)


def fill(read: CachedRead, version: str) -> tuple[bytes, store.Entry | None]:
    """The miss step, for a request and for the warm-up alike: compute, render and store under
    `version` (read before computing). The entry is None when Redis could not take it."""
    body, seconds = render(read)
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
            until=read.until() if read.until is not None else math.inf,
        )
    except RedisUnavailable:
        return body, None
    return body, entry


def release(user_id: int, lock: str, token: str) -> None:
    try:
        guarded(user_id, "unlock", singleflight.release, lock, token)
    except RedisUnavailable:
        pass  # the lock expires by itself after LOCK_TTL_MS


def render(read: CachedRead) -> tuple[bytes, float]:
    """The one way a body is rendered (orjson), timed into resee_cache_compute_seconds."""
    started = time.perf_counter()
    body = orjson.dumps(read.compute())
    seconds = time.perf_counter() - started
    COMPUTE_SECONDS.labels(endpoint=read.namespace).observe(seconds)
    return body, seconds


def _respond(request, served: Served) -> HttpResponse:
    etag = served.etag or store.etag_for(served.body)
    # Note: META, not request.headers, which copies every header into a new mapping on first use.
    wanted = request.META.get("HTTP_IF_NONE_MATCH")
    if wanted and _etag_matches(wanted, etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(served.body, content_type="application/json")
    response["ETag"] = etag
    response["X-Cache"] = served.result
    # Per-user answers: a browser may keep them but must revalidate; no shared proxy may store them.
    response["Cache-Control"] = "private, no-cache"
    response["Vary"] = "Authorization"  # a response of our own making: no Vary to merge with yet
    return response


def _etag_matches(header: str, etag: str) -> bool:
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


# --- the start-up check ----------------------------------------------------------------------------

# The steps the path takes over on a cached GET: a class that overrides one of them ahead of the
# class whose definition the path relies on (the mixin's own, else DRF's APIView) would be
# bypassed, or would bypass the path.
_TAKEN_OVER = ("perform_authentication", "check_throttles", "get", "head", "initial", "dispatch")


@register()
def check_read_path(app_configs, **kwargs) -> list[Error]:
    """Every routed view with a cached GET is served faithfully by the path (`path_errors`)."""
    return [error for view in _cached_view_classes(get_resolver().url_patterns) for error in path_errors(view)]


def path_errors(view_class: type) -> list[Error]:
    """What keeps the read path from serving `view_class` as DRF would: a class overriding a step
    the path takes over; an authenticator without `verify` and `revocation_command`, or adding to
    them in `authenticate`; a throttle that does not count in fixed windows (`allow_count`) or has
    an `allow_request` of its own."""
    # Note: imported here, not with the module: DRF's views read the authentication classes,
    # which need the apps loaded, and this module is loaded with them.
    from rest_framework.views import APIView

    name = f"{view_class.__module__}.{view_class.__qualname__}"
    errors = [
        Error(f"{name} overrides {method}(), which the read path takes over on a cached GET.", id="resee.E010")
        for method in _TAKEN_OVER
        if _overrides(view_class, method, CachedReadMixin if method in vars(CachedReadMixin) else APIView)
    ]
    errors += _authenticator_errors(name, view_class.authentication_classes)
    errors += [
        Error(f"{name}: {throttle.__qualname__} must count in fixed windows (allow_count) only.", id="resee.E012")
        for throttle in view_class.throttle_classes
        if not hasattr(throttle, "allow_count")
        or _overrides(throttle, "allow_request", _owner(throttle, "allow_count"))
    ]
    return errors


def _authenticator_errors(name: str, authenticators) -> list[Error]:
    wanted = ("verify", "revocation_command", "is_revoked", "refuse_revoked")
    if len(authenticators) != 1 or not all(hasattr(authenticators[0], method) for method in wanted):
        return [Error(f"{name} needs one authenticator offering {', '.join(wanted)}.", id="resee.E011")]
    if _overrides(authenticators[0], "authenticate", _owner(authenticators[0], "verify")):
        return [Error(f"{name}: {authenticators[0].__qualname__}.authenticate() adds to verify().", id="resee.E011")]
    return []


def _owner(cls: type, name: str) -> type:
    return next(klass for klass in cls.__mro__ if name in vars(klass))


def _overrides(cls: type, name: str, base: type) -> bool:
    """Whether a class ahead of `base` in `cls`'s MRO defines `name` (a schema decorator's copy of
    `base`'s own method aside)."""
    for klass in cls.__mro__:
        if klass is base:
            return False
        found = vars(klass).get(name)
        if found is not None and inspect.unwrap(found) is not vars(base).get(name):
            return True
    return False


def _cached_view_classes(patterns):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _cached_view_classes(pattern.url_patterns)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "cls", None)
            if isinstance(view_class, type) and issubclass(view_class, CachedReadMixin):
                yield view_class
