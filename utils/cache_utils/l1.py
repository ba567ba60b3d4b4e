"""L1: an optional in-process LRU in front of Redis (off by default; see docs/cache.md for why).

A `store.LocalCache`: bounded in entries and bytes, each entry kept at most L1_TTL_SECONDS. A bump
evicts the user's namespaces here at once and is published on a Redis channel; every process runs
one subscriber thread that evicts on each message. The L1 serves only while that thread is subscribed: when the
subscription drops, messages may have been lost, so the whole L1 is cleared and unused until it
is back. The bound on serving an old entry in another process is therefore L1_TTL_SECONDS, and in
practice the pub/sub delivery time (milliseconds).
"""

import logging
import threading
import time

from redis.exceptions import RedisError

from utils import redis_layer
from utils.cache_utils import store
from utils.cache_utils.conf import cache_settings
from utils.cache_utils.store import LocalCache

logger = logging.getLogger(__name__)


_local: LocalCache | None = None
_subscriber: threading.Thread | None = None
_setup_lock = threading.Lock()


def local_cache() -> LocalCache | None:
    """This process's L1, or None when it is off or not (yet) subscribed to bumps. Starts the
    subscriber on first use (after a gunicorn fork, in each worker)."""
    global _local, _subscriber
    if not cache_settings.L1_ENABLED:
        return None
    with _setup_lock:
        if _local is None:
            _local = LocalCache(
                max_entries=cache_settings.L1_MAX_ENTRIES,
                max_bytes=cache_settings.L1_MAX_BYTES,
                ttl_seconds=cache_settings.L1_TTL_SECONDS,
            )
        if _subscriber is None or not _subscriber.is_alive():
            _subscriber = threading.Thread(target=_listen, args=(_local,), name="cache-l1-bumps", daemon=True)
            _subscriber.start()
        return _local if _local.live.is_set() else None


def reset() -> None:
    """Drop this process's L1 (tests; settings changes). The old subscriber thread stops on its own
    once it sees it is no longer current."""
    global _local, _subscriber
    with _setup_lock:
        _local, _subscriber = None, None


def _listen(cache: LocalCache) -> None:
    while _local is cache:
        pubsub = store.client().pubsub(ignore_subscribe_messages=True)
        sharded = redis_layer.route(redis_layer.CACHE).cluster  # store.queue_bump sends SPUBLISH there
        subscribe, receive = (
            (pubsub.ssubscribe, pubsub.get_sharded_message) if sharded else (pubsub.subscribe, pubsub.get_message)
        )
        try:
            redis_layer.call(redis_layer.CACHE, "l1-subscribe", subscribe, store.bumps_channel())
            # Note: messages sent while we were not subscribed are lost; start from an empty L1.
            cache.clear()
            cache.live.set()
            while _local is cache:
                message = receive(timeout=0.5)
                if message is not None:
                    user_id, _, namespaces = message["data"].decode().partition(":")
                    cache.evict(int(user_id), set(namespaces.split(",")))
        except (redis_layer.RedisUnavailable, RedisError, OSError, ValueError) as exc:
            logger.warning("cache: L1 subscription lost, clearing L1: %s", exc)
            cache.live.clear()
            cache.clear()
            time.sleep(0.5)
        except BaseException:
            # Note: whatever kills this thread (hiredis raises TypeError on a connection closed
            # under it), no bump reaches the L1 any more: it must stop serving before the next
            # subscriber takes over.
            cache.live.clear()
            raise
        finally:
            pubsub.close()
