"""A per-process circuit breaker in front of one Redis server (utils.redis_layer keeps one per
server, shared by every purpose on it).

closed ──(FAILURE_THRESHOLD failures in a row)──▶ open
open ──(COOLDOWN seconds)──▶ half-open: one request probes Redis
half-open ──probe succeeds──▶ closed / fails ──▶ open
open ──(a sign of life: `cut_short`)──▶ the cool-down ends at once: the next call probes
(What was lost while a server was away is not the breaker's business: utils.redis_layer makes
its purpose's recovery due there, run before that purpose's next answer is used.)

While open no call goes to that Redis (a write may still ask it for a sign of life first:
utils.redis_layer.probe_now).
"""

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class CircuitBreaker:
    def __init__(self, *, failure_threshold: int, cooldown_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.failure_threshold = failure_threshold
        self.cooldown_seconds = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self.state = CLOSED
        self.failures = 0  # in a row
        self._changed_at = clock()
        self.openings = 0  # Note: names each opening, so a watcher of one never ends another's cool-down

    def allow(self) -> bool:
        """May this request call Redis? In half-open, only one probe at a time (a probe that never
        reports back is replaced after another cool-down)."""
        with self._lock:
            if self.state == CLOSED:
                return True
            if self._clock() - self._changed_at < self.cooldown_seconds:
                return False
            self._set(HALF_OPEN)
            return True

    def record_success(self) -> bool:
        """True when this success is the probe's and closes the breaker. Only a half-open probe
        closes it: a call let through before the breaker opened must not close it again."""
        with self._lock:
            self.failures = 0
            if self.state != HALF_OPEN:
                return False
            self._set(CLOSED)
            return True

    def record_failure(self) -> bool:
        """True when this failure opens the circuit (from closed or half-open)."""
        with self._lock:
            self.failures += 1
            if self.state == HALF_OPEN or self.failures >= self.failure_threshold:
                opens = self.state != OPEN
                self.openings += opens
                self._set(OPEN)
                return opens
            return False

    def cooling(self, opening: int) -> bool:
        """Is the circuit still in the cool-down of its `opening`?"""
        with self._lock:
            return (
                self.openings == opening
                and self.state == OPEN
                and self._clock() - self._changed_at < self.cooldown_seconds
            )

    def cut_short(self, opening: int) -> None:
        """The server was seen answering again: the cool-down of `opening` ends now, and the next
        call is the one probe, as after a full cool-down."""
        with self._lock:
            if self.openings == opening and self.state == OPEN:
                self._changed_at = self._clock() - self.cooldown_seconds

    def _set(self, state: str) -> None:
        self.state = state
        self._changed_at = self._clock()
