"""Refresh on write: once a write's response has gone out, recompute its owner's hottest answers
(the reads the apps register for the warm-up and for refreshing: today's unfiltered list, the
stats, the content index) whose namespaces it bumped, so the owner's next read is a hit instead of a miss.

An entry recomputed after the write's commit, under the token the bump created, is exactly a
miss done early: the token protocol keeps it safe (a later write bumps again, and the refreshed
entry is dead). It runs in the worker's thread when Django closes the response (the
`request_finished` signal, sent after the server has written the body), so the write's 2xx is
not delayed; it holds each entry's single-flight lock like a miss, so a read arriving meanwhile
waits for its result instead of computing it again. Writes outside a request (shell, commands)
leave their answers to the next read. RESEE_CACHE["REFRESH_ON_WRITE"] turns it off.
"""

import logging
import threading
from collections import defaultdict

from django.core.signals import request_finished, request_started

from utils.cache_utils import reads
from utils.cache_utils.conf import cache_settings
from utils.cache_utils.metrics import REFRESHES
from utils.cache_utils.warm import warm
from utils.redis_layer import RedisUnavailable

logger = logging.getLogger(__name__)


class _Scheduled(threading.local):
    """The users whose answers this thread's request refreshes once its response is out, with
    the namespaces its writes bumped."""

    def __init__(self):
        self.users: dict[int, set[str]] = defaultdict(set)


_scheduled = _Scheduled()


def schedule(*, user_id: int, namespaces) -> None:
    """Refresh the answers of `user_id` in `namespaces`, which this request's write bumped (from
    invalidation), once the response is out."""
    if cache_settings.REFRESH_ON_WRITE and cache_settings.ENABLED:
        _scheduled.users[user_id] |= set(namespaces)


def _forget(**kwargs) -> None:
    if _scheduled.users:
        _scheduled.users = defaultdict(set)


def _refresh(**kwargs) -> None:
    if not _scheduled.users:
        return  # Note: every request ends here; most wrote nothing
    scheduled, _scheduled.users = _scheduled.users, defaultdict(set)
    for user_id, namespaces in scheduled.items():
        for read in reads.refresh_reads_for(user_id):
            if read.namespace not in namespaces:
                continue
            try:
                REFRESHES.labels(endpoint=read.namespace, result=warm(read)).inc()
            except RedisUnavailable:
                return  # logged by the Redis layer; the next reads compute
            except Exception:
                REFRESHES.labels(endpoint=read.namespace, result="failed").inc()
                logger.exception("cache: refreshing %s of user %s failed", read.namespace, user_id)


request_started.connect(_forget, dispatch_uid="cache.refresh.forget")
request_finished.connect(_refresh, dispatch_uid="cache.refresh.after_response")
