"""Precompute the cache entries that recently active users will ask for first.

    manage.py cache_warm                    # today (no category filter) and stats, 7 days, 1000 users
    manage.py cache_warm --days 2 --limit 200 --no-progress

Users with review history in the last `--days` days, most recently active first, at most
`--limit`. Each entry is written exactly as a miss would write it (utils.cache_utils.warm), so the
next GET is a HIT, and a write racing the warm leaves a dead entry, never a stale answer. Exits
non-zero when Redis is unreachable or the cache is off, and when an entry failed.
"""

import logging
from collections import Counter

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from utils import redis_layer
from utils.breaker import CLOSED
from utils.cache_utils import reads, store
from utils.cache_utils.conf import cache_settings
from utils.cache_utils.stats import forget_own_gauges
from utils.cache_utils.warm import BUSY, FRESH, WARMED, CachedRead, warm
from utils.redis_layer import RedisUnavailable

logger = logging.getLogger(__name__)

MAX_DAYS, MAX_LIMIT = 365, 10_000
FAILED = "failed"
OUTCOMES = (WARMED, FRESH, BUSY, FAILED)
_LABELS = {WARMED: "warmed", FRESH: "already fresh", BUSY: "being computed by a request", FAILED: "failed"}


def bounded(low: int, high: int):
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(f"{value} is not within {low}..{high}")
        return value

    parse.__name__ = f"integer {low}..{high}"
    return parse


class Command(BaseCommand):
    help = "Precompute today's reviews and stats of recently active users into the API cache."

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=bounded(1, MAX_DAYS), default=7, help="users with a review in this many days"
        )
        parser.add_argument(
            "--limit", type=bounded(1, MAX_LIMIT), default=1000, help=f"at most this many users (<= {MAX_LIMIT})"
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar (also off when not a TTY)")

    def handle(self, *args, days: int, limit: int, no_progress: bool, **options):
        try:
            self._check_cache()
            user_ids = reads.active_users(days=days, limit=limit)
            tally = self._warm_all(user_ids, progress=not no_progress and self.stdout.isatty())
        finally:
            forget_own_gauges()
        failed = sum(tally[namespace, FAILED] for namespace in reads.warm_namespaces())
        if failed:
            raise CommandError(f"{failed} entries could not be warmed; the log says why.")

    def _check_cache(self) -> None:
        if not cache_settings.ENABLED:
            raise CommandError("The cache is disabled (RESEE_CACHE['ENABLED'] / CACHE_ENABLED): nothing to warm.")
        try:
            redis_layer.call(redis_layer.CACHE, "ping", store.client().ping)
        except RedisUnavailable as exc:
            raise CommandError(f"Redis of the API cache is unreachable ({exc.__cause__ or exc}).") from exc

    def _warm_all(self, user_ids: list[int], *, progress: bool) -> Counter:
        tally = Counter()
        try:
            for user_id in tqdm(user_ids, desc="cache_warm", unit="user", disable=not progress):
                for read in reads.warm_reads_for(user_id):
                    tally[read.namespace, self._warm_one(read)] += 1
        finally:
            self._summarise(len(user_ids), tally)
        return tally

    def _warm_one(self, read: CachedRead) -> str:
        try:
            return warm(read)
        except RedisUnavailable as exc:
            if redis_layer.breaker(redis_layer.CACHE).state != CLOSED:
                raise CommandError(f"Redis became unreachable while warming; stopped ({exc}).") from exc
            return FAILED  # logged by the Redis layer; the breaker has not given up on Redis yet
        except Exception:
            logger.exception("cache_warm: %s of user %s failed", read.namespace, read.user_id)
            return FAILED

    def _summarise(self, users: int, tally: Counter) -> None:
        self.stdout.write(f"cache_warm: {users} active user(s)")
        for namespace in reads.warm_namespaces():
            counts = ", ".join(f"{tally[namespace, outcome]} {_LABELS[outcome]}" for outcome in OUTCOMES)
            self.stdout.write(f"  {namespace:<6} {counts}")
