"""One Redis round trip for everything a request asks Redis before its view answers.

The authentication learns the user first. It hands its own commands (the revocation HMGET) to
`ask`, which adds the counter of each of the view's throttles (INCR + EXPIRE) and, for a view
served through the cache, the lookup of its entry (namespace token and entry in one MGET), and
sends them together (`redis_layer.gather`: one pipeline per server, SELECT between databases; on
a cluster one pipeline to the user's node, every key on the user's hash tag).
The replies wait on the request: the throttles and the cache take theirs instead of asking again.

    HMGET revoked:user:42 ...   INCR throttle:user_42:<window>   MGET api:{u42}:ns:today api:{u42}:today:...
    └──────────────────────────── one pipeline, one round trip ───────────────────────────────┘

When Redis is down or its circuit open, every part degrades as it would on its own: the
revocation check asks the database, the throttles allow, the cache bypasses.

A request authenticated twice (utils.cache_utils.middleware answers fresh hits before DRF's
dispatch and hands everything else on) is asked once: the second time takes the first's replies.
"""

import time
from dataclasses import dataclass, field

from rest_framework.exceptions import APIException

from utils import clock, redis_layer
from utils.cache_utils import store
from utils.cache_utils.conf import cache_setting
from utils.cache_utils.reads import CachedRead, looked_up
from utils.redis_layer import CACHE, THROTTLE, RedisUnavailable

_DOWN = object()  # what a reply is when its server could not be asked


@dataclass
class Prefetch:
    """What was asked with the authentication: throttle counts by key, the cached read, and its
    lookup (the MGET, its replies, the round trip's seconds). A reply is _DOWN when its Redis
    could not be asked."""

    user_id: int
    answers: dict[str, list]  # the replies of the authentication's own commands, by purpose
    counts: dict[str, object] = field(default_factory=dict)
    read: CachedRead | None = None
    lookup: tuple | None = None
    replies: object = None
    seconds: float = 0.0
    at: float | None = None  # the clock the throttle windows were cut at
    limits: dict[str, int] | None = None  # counter key -> its rate; None when a throttle could not be asked
    hit: bool | None = None  # the cache's verdict on the entry (fresh, not due early), once judged


def ask(request, *, user, commands: dict[str, list[tuple]]) -> dict[str, list]:
    """Send `commands` with the throttles' and the cache's, in one round trip; the replies of
    `commands` by purpose (a purpose is missing when its Redis could not be asked). The rest
    waits on the request for `throttle_count` and `lookup_replies`."""
    view = (request.parser_context or {}).get("view")
    # Note: the throttles' keys and the cached read come from request.user, which DRF sets only
    # once the authentication returns; this is that user, a moment earlier.
    request.user = user
    done = getattr(request._request, "resee_prefetch", None)
    if done is not None and done.user_id == user.id:
        return done.answers
    at = clock.timestamp()
    counters, limits = _throttle_counters(request, view, at)
    read = _cached_read(request, view)
    prefetch = request._request.resee_prefetch = Prefetch(user_id=user.id, answers={}, read=read, at=at, limits=limits)
    own, commands = tuple(commands), dict(commands)
    if counters:
        commands[THROTTLE] = [command for key, ttl in counters for command in (("INCR", key), ("EXPIRE", key, ttl))]
    if read is not None:
        first = looked_up(read)
        prefetch.lookup = store.lookup_command(user_id=first.user_id, namespace=first.namespace, params=first.params)
        commands[CACHE] = [prefetch.lookup]
    started = time.perf_counter()
    replies = redis_layer.gather("request", commands, user_id=user.id)
    prefetch.seconds = time.perf_counter() - started
    throttled = replies.get(THROTTLE)
    prefetch.counts = {key: throttled[2 * n] if throttled else _DOWN for n, (key, _) in enumerate(counters)}
    if prefetch.lookup is not None:
        prefetch.replies = replies[CACHE][0] if CACHE in replies else _DOWN
    prefetch.answers = {purpose: replies[purpose] for purpose in own if purpose in replies}
    return prefetch.answers


def refund(request) -> None:
    """Take back the throttle counts of a request that turned out unauthenticated (a revoked
    token): a revoked token must not use up its user's rate."""
    prefetch = getattr(request, "resee_prefetch", None)
    counted = [key for key, count in prefetch.counts.items() if count is not _DOWN] if prefetch else []
    if counted:
        # Note: should Redis be gone by now, the counts stay: one window a little tighter.
        redis_layer.gather("refund", {THROTTLE: [("DECR", key) for key in counted]}, user_id=prefetch.user_id)
        prefetch.counts.clear()


def throttle_count(request, key: str) -> int | None:
    """This counter's value after the request's INCR; None if it was not asked with the request.
    RedisUnavailable if its Redis could not be asked."""
    prefetch = getattr(request, "resee_prefetch", None)
    count = prefetch.counts.get(key) if prefetch is not None else None
    if count is _DOWN:
        raise RedisUnavailable("the throttle counters of the request's round trip")
    return count


def within_rates(request) -> bool:
    """Whether the view's throttles, all counted with the request, would let it through: every
    count within its rate, or not counted because its Redis could not be asked (the throttles
    fail open). False when anything is unknown; DRF's check_throttles then decides."""
    prefetch = getattr(request, "resee_prefetch", None)
    if prefetch is None or prefetch.limits is None:
        return False
    return all(count is _DOWN or count <= prefetch.limits[key] for key, count in prefetch.counts.items())


def counted_at(request) -> float | None:
    prefetch = getattr(request, "resee_prefetch", None)
    return prefetch.at if prefetch is not None else None


def planned_read(request) -> CachedRead | None:
    prefetch = getattr(request, "resee_prefetch", None)
    return prefetch.read if prefetch is not None else None


def lookup_replies(request, namespace: str, params: dict) -> tuple[list, float] | None:
    """The replies of the lookup of (namespace, params) and the seconds its round trip took, if
    it was asked with the request, else None. RedisUnavailable if its Redis could not be asked."""
    prefetch = getattr(request, "resee_prefetch", None)
    read = looked_up(prefetch.read) if prefetch is not None and prefetch.read is not None else None
    # Note: `serve` passes the very read that was planned: its params are the same object, and
    # its keys need not be built again.
    if read is None or read.params is not params or read.namespace != namespace or prefetch.lookup is None:
        return None
    if prefetch.replies is _DOWN:
        raise RedisUnavailable("the cache lookup of the request's round trip")
    return prefetch.replies, prefetch.seconds


def verdict(request) -> bool | None:
    """The cache's verdict on the prefetched entry (a hit or not), if it was judged already."""
    prefetch = getattr(request, "resee_prefetch", None)
    return prefetch.hit if prefetch is not None else None


def keep_verdict(request, hit: bool) -> None:
    prefetch = getattr(request, "resee_prefetch", None)
    if prefetch is not None:
        prefetch.hit = hit


def _throttle_counters(request, view, at: float) -> tuple[list[tuple[str, int]], dict[str, int] | None]:
    """The (key, TTL) of each of the view's throttle counters, and each counter's rate (None if a
    throttle has no window_key: its own allow_request must be asked)."""
    if view is None:
        return [], None
    counters, limits = [], {}
    for throttle in view.get_throttles():
        window = getattr(throttle, "window_key", None)
        if window is None:
            limits = None
            continue
        found = window(request, view, at)
        if found is not None:
            counters.append(found[:2])
            if limits is not None:
                limits[found[0]] = throttle.num_requests
    return counters, limits


def _cached_read(request, view) -> CachedRead | None:
    describe = getattr(view, "cached_read", None)
    if describe is None or request.method != "GET" or not cache_setting("ENABLED"):
        return None
    if cache_setting("L1_ENABLED"):
        return None  # Note: the L1 may answer without Redis; its own path decides
    try:
        return describe(request)
    except APIException:
        return None  # bad parameters: the view says so once the request is authenticated
