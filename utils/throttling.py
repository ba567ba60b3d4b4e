"""Rate limits in one Redis round trip: a fixed-window counter (INCR + EXPIRE in one pipeline)
instead of DRF's GET + SET of a timestamp list. On a cached GET the counters travel with the
request's other Redis commands (utils.cache_utils.read_path), which hands `allow_count` the count.

# Note: a fixed window lets a client burst up to twice the rate across a window boundary; in
# exchange every check is one round trip and O(1) memory per client, shared by all workers.
When the throttle Redis is unreachable, or its breaker open (utils.redis_layer), the request is
allowed: a looser limit for a while beats failing every request.
"""

from rest_framework import throttling

from utils import clock, redis_layer
from utils.redis_layer import THROTTLE, RedisUnavailable


def _count(key: str, ttl: int) -> int:
    pipe = redis_layer.client(THROTTLE).pipeline(transaction=False)
    pipe.incr(key)
    pipe.expire(key, ttl)
    return pipe.execute()[0]


@redis_layer.memoized_key
def _counter_key(key: str, user_id: int | None) -> str:
    """A counter's key less its window: a user's on the user's hash tag, with the request's other keys."""
    return redis_layer.make_key(THROTTLE, f"{redis_layer.user_tag(user_id)}:{key}" if user_id is not None else key)


class FixedWindowMixin:
    def window_key(self, request, view, now: float | None = None) -> tuple[str, int, float] | None:
        """(Redis key, TTL, now) of this request's counter at `now` (default: the clock); None
        when this throttle does not apply."""
        if self.rate is None:
            return None
        key = self.get_cache_key(request, view)
        if key is None:
            return None
        now = clock.timestamp() if now is None else now
        user_id = request.user.pk if request.user.is_authenticated else None
        return f"{_counter_key(key, user_id)}:{int(now // self.duration)}", self.duration + 1, now

    def allow_request(self, request, view) -> bool:
        found = self.window_key(request, view)
        if found is None:
            return True
        key, ttl, now = found
        user_id = request.user.pk if request.user.is_authenticated else None
        try:
            count = redis_layer.call_for(user_id, THROTTLE, "throttle", _count, key, ttl)
        except RedisUnavailable:
            count = None  # logged by the layer
        return self.allow_count(count, now)

    def allow_count(self, count: int | None, now: float) -> bool:
        """Whether this request, its window's `count`-th, is within the rate; None (Redis could
        not count it) is allowed: a looser limit for a while beats failing every request."""
        if count is None:
            return True
        self.retry_after = self.duration - now % self.duration
        return count <= self.num_requests

    def wait(self) -> float:
        return max(getattr(self, "retry_after", 1.0), 1.0)


class AnonRateThrottle(FixedWindowMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FixedWindowMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FixedWindowMixin, throttling.ScopedRateThrottle):
    def window_key(self, request, view, now=None):
        # DRF's ScopedRateThrottle resolves the view's scope and rate in allow_request, before counting.
        self.scope = getattr(view, self.scope_attr, None)
        if not self.scope:
            return None
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().window_key(request, view, now)
