"""Per-request counters for the in-process bench: SQL queries (Django's CaptureQueriesContext) and
Redis round trips by Redis database (a wrapper around redis-py's execute_command and
Pipeline.execute: a pipeline is one round trip, whatever it holds)."""

from collections import Counter
from contextlib import contextmanager

import redis.client
import redis.cluster
from django.db import connection
from django.test.utils import CaptureQueriesContext

_round_trips: Counter | None = None
_commands: Counter | None = None
_originals: tuple | None = None


def _db_of(client) -> int:
    pool = getattr(client, "connection_pool", None)  # a cluster client has a pool per node, all on db 0
    return int(pool.connection_kwargs.get("db", 0) or 0) if pool is not None else 0


def install() -> None:
    """Wrap redis-py while counting; `uninstall()` puts the originals back, so no timed request
    pays for the wrappers."""
    global _originals
    if _originals is not None:
        return
    # Note: a cluster pipeline writes to every node it needs before it reads any answer: one
    # round trip in wall time (and a request's keys share one node: tests/scenarios/test_redis_cluster.py).
    _originals = [
        (owner, name, getattr(owner, name))
        for owner in (redis.client.Redis, redis.cluster.RedisCluster)
        for name in ("execute_command",)
    ] + [(owner, "execute", owner.execute) for owner in (redis.client.Pipeline, redis.cluster.ClusterPipeline)]
    for owner, name, original in _originals:
        setattr(owner, name, _counted(original, pipeline=name == "execute"))


def _counted(original, *, pipeline: bool):
    def counted(self, *args, **kwargs):
        stack = len(self) if pipeline else 1  # a cluster pipeline queues in its strategy, not command_stack
        if _round_trips is not None and stack:
            db = _db_of(self)
            _round_trips[db] += 1
            _commands[db] += stack
        return original(self, *args, **kwargs)

    return counted


def uninstall() -> None:
    global _originals
    if _originals is not None:
        for owner, name, original in _originals:
            setattr(owner, name, original)
        _originals = None


class Tally:
    def __init__(self):
        self.sql = 0
        self.round_trips: Counter = Counter()
        self.commands: Counter = Counter()


@contextmanager
def counting():
    global _round_trips, _commands
    install()
    tally = Tally()
    _round_trips, _commands = tally.round_trips, tally.commands
    try:
        with CaptureQueriesContext(connection) as queries:
            yield tally
    finally:
        _round_trips = _commands = None
        uninstall()
    tally.sql = len(queries.captured_queries)
