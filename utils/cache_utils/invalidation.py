"""Invalidation: namespace bumps after commit, plus key and pattern deletes for operators."""

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction

from utils import redis_layer
from utils.cache_utils import l1, refresh, store
from utils.cache_utils.conf import NAMESPACES, cache_settings
from utils.cache_utils.metrics import INVALIDATIONS
from utils.redis_layer import RedisUnavailable

logger = logging.getLogger(__name__)


class _PendingBumps(threading.local):
    """The bumps this thread's open transactions will send once they commit, by user, and the
    writes that caused them."""

    def __init__(self):
        self.namespaces: dict[int, set[str]] = defaultdict(set)
        self.reasons: set[str] = set()


_pending_bumps = _PendingBumps()


def invalidate_on_commit(*, user_id: int, namespaces: Iterable[str] = NAMESPACES, reason: str) -> None:
    """Bump the user's namespaces once the current transaction commits (at once outside one).

    # Note: bumping inside the transaction would let a concurrent reader refill the cache from the
    # pre-commit rows under the new token.
    # Note: every call queues a flush and the first flush after the commit sends every pending
    # bump, one pipeline per user however many rows changed (a cascade delete fires a signal per
    # row); the later ones find nothing. A rolled-back block drops its flushes but not its pending
    # bumps: they go with the thread's next commit, one harmless bump more, never one less."""
    namespaces = set(namespaces)
    if not namespaces:
        return
    if not transaction.get_connection().in_atomic_block:
        bump_now(user_id=user_id, namespaces=namespaces, reasons={reason})
        return
    _pending_bumps.namespaces[user_id] |= namespaces
    _pending_bumps.reasons.add(reason)
    transaction.on_commit(_flush)


def _flush() -> None:
    pending, reasons = _pending_bumps.namespaces, _pending_bumps.reasons
    _pending_bumps.namespaces, _pending_bumps.reasons = defaultdict(set), set()
    for user_id, namespaces in pending.items():
        bump_now(user_id=user_id, namespaces=namespaces, reasons=reasons)


def bump_now(*, user_id: int, namespaces: Iterable[str], reasons: Iterable[str]) -> None:
    """Bump now; if Redis cannot be reached, record the bump as a debt in the database and open
    this process's circuit, so no entry older than the write is served before the debt is paid."""
    from utils.cache_utils.models import InvalidationDebt  # not at import: this package is also the app

    namespaces = sorted(namespaces)
    if (local := l1.local_cache()) is not None:
        local.evict(user_id, namespaces)  # this process reads its own writes at once
    # Note: an open circuit here may be this process's alone, late to see Redis back while
    # another process already serves hits from it, among them the entry this write outdates: the
    # bump is sent if Redis answers now, not owed until this process's probe thread sees it.
    redis_layer.probe_now(redis_layer.CACHE, user_id)
    try:
        store.guarded(user_id, "invalidate", store.bump, user_id=user_id, namespaces=namespaces)
        if "user" not in reasons:  # Note: a deleted user reads nothing again
            refresh.schedule(user_id=user_id, namespaces=namespaces)
    except RedisUnavailable:
        InvalidationDebt.objects.create(user_id=user_id, namespaces=",".join(namespaces))
        redis_layer.require_recovery(redis_layer.CACHE, user_id)
        logger.error("cache: invalidation of user %s %s kept as a debt until Redis is back", user_id, namespaces)
        return
    for reason in reasons:
        INVALIDATIONS.labels(reason=reason).inc()


def settle_debts(server: str | None = None, *, batch_size: int = 1000) -> int:
    """Send the bumps that could not reach Redis, then forget them: those of the users served by
    `server` (all when None; on a standalone Redis, that is all of them). The cache's recovery
    hook (utils.redis_layer.on_recovery): runs before a process uses that server again after an
    outage, and at its first use; Redis or database errors propagate to the layer."""
    from utils.cache_utils.models import InvalidationDebt

    settled, after = 0, 0
    oldest_first = InvalidationDebt.objects.order_by("id").values_list("id", "user_id", "namespaces")
    while debts := list(oldest_first.filter(id__gt=after)[:batch_size]):
        after = debts[-1][0]
        if server is not None and redis_layer.route(redis_layer.CACHE).cluster:
            debts = [debt for debt in debts if redis_layer.server_of(redis_layer.CACHE, debt[1]) == server]
        if not debts:
            continue
        pipe = store.client().pipeline(transaction=False)
        for _, user_id, namespaces in debts:
            store.queue_bump(pipe, user_id=user_id, namespaces=namespaces.split(","))
        redis_layer.execute_durably(redis_layer.CACHE, pipe)
        InvalidationDebt.objects.filter(id__in=[debt_id for debt_id, _, _ in debts]).delete()
        settled += len(debts)
    if settled:
        logger.info("cache: settled %s invalidation debts", settled)
    return settled


def invalidate_cache(*cache_keys: str) -> int:
    """Delete entries by key (as built by `generate_cache_key`, without prefix or release)."""
    if not cache_keys:
        return 0
    return store.client().unlink(*(store.full_key(key) for key in cache_keys))


def invalidate_pattern(pattern: str) -> int:
    """Delete every entry of this release whose key matches the glob `pattern`, e.g. `{u42}:*`.
    SCAN in batches of RESEE_CACHE['SCAN_BATCH'] keys (never KEYS), UNLINK per batch, on the
    operator's client (utils.redis_layer.operator_client: a timeout of seconds)."""
    batch_size, match = cache_settings.SCAN_BATCH, _glob_escape(store.full_key("")) + pattern
    deleted, batch = 0, []
    with redis_layer.operator_client(redis_layer.CACHE) as client:
        for key in client.scan_iter(match=match, count=batch_size):
            batch.append(key)
            if len(batch) >= batch_size:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    return deleted


def _glob_escape(text: str) -> str:
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)
