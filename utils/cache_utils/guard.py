"""Every call of the cache layer to Redis goes through `guarded`: short timeouts (the `api`
alias's SOCKET_TIMEOUT), a per-process circuit breaker, and settling of invalidation debts before
the first Redis answer after an outage is used.

Degrading is explicit: callers get CacheUnavailable and serve from the database (X-Cache: BYPASS);
each failure is logged and counted in resee_cache_errors_total{operation}.
"""

import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import DatabaseError
from redis.exceptions import RedisError

from utils.cache_utils.breaker import HALF_OPEN, CircuitBreaker
from utils.cache_utils.conf import cache_setting
from utils.cache_utils.metrics import BREAKER_OPEN, ERRORS

logger = logging.getLogger(__name__)
T = TypeVar("T")

_breaker: CircuitBreaker | None = None
_breaker_lock = threading.Lock()


class CacheUnavailable(Exception):
    """Redis is down, slow, or the breaker is open: serve from the database."""


def breaker() -> CircuitBreaker:
    global _breaker
    with _breaker_lock:
        if _breaker is None:
            _breaker = CircuitBreaker(
                failure_threshold=cache_setting("BREAKER_FAILURES"),
                cooldown_seconds=cache_setting("BREAKER_COOLDOWN_SECONDS"),
            )
            # Note: a new process starts as if recovering from an outage, so its first call settles
            # whatever debts other processes left (one small query per process start).
            _breaker.trip()
        return _breaker


def reset_breaker() -> None:
    """Forget the breaker (tests; settings changes)."""
    global _breaker
    with _breaker_lock:
        _breaker = None


def guarded(operation: str, call: Callable[[], T]) -> T:
    circuit = breaker()
    if not circuit.allow():
        raise CacheUnavailable(f"{operation}: circuit open")
    try:
        if circuit.state == HALF_OPEN:
            _settle_before_use()
        result = call()
    except (RedisError, DatabaseError) as exc:
        circuit.record_failure()
        BREAKER_OPEN.set(circuit.state != "closed")
        ERRORS.labels(operation=operation).inc()
        logger.warning("cache: %s failed (%s), serving from the database: %s", operation, circuit.state, exc)
        raise CacheUnavailable(operation) from exc
    except BaseException:
        _succeeded(circuit)  # Redis answered (e.g. CacheMiss); what raised is the caller's logic
        raise
    _succeeded(circuit)
    return result


def trip() -> None:
    """A bump was lost: no Redis answer may be used until a probe has paid the debts."""
    breaker().trip()
    BREAKER_OPEN.set(1)


def _succeeded(circuit: CircuitBreaker) -> None:
    if circuit.record_success():
        BREAKER_OPEN.set(0)
        # Note: also the first call of every process, whose breaker starts tripped (see breaker()).
        logger.info("cache: Redis reachable and invalidation debts settled, circuit closed")


def _settle_before_use() -> None:
    from utils.cache_utils.invalidation import settle_debts

    settle_debts()
