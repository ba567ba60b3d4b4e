"""Per-request counters for the in-process bench: SQL queries (Django's CaptureQueriesContext) and
Redis round trips by Redis database (a wrapper around redis-py's execute_command and
Pipeline.execute: a pipeline is one round trip, whatever it holds)."""

from collections import Counter
from contextlib import contextmanager

import redis.client
from django.db import connection
from django.test.utils import CaptureQueriesContext

_round_trips: Counter | None = None
_commands: Counter | None = None
_originals: tuple | None = None


def _db_of(client) -> int:
    return int(client.connection_pool.connection_kwargs.get("db", 0) or 0)


def install() -> None:
    """Wrap redis-py while counting; `uninstall()` puts the originals back, so no timed request
    pays for the wrappers."""
    global _originals
    if _originals is not None:
        return
    execute_command = redis.client.Redis.execute_command
    pipeline_execute = redis.client.Pipeline.execute
    _originals = (execute_command, pipeline_execute)

    def counted_execute_command(self, *args, **options):
        if _round_trips is not None:
            db = _db_of(self)
            _round_trips[db] += 1
            _commands[db] += 1
        return execute_command(self, *args, **options)

    def counted_pipeline_execute(self, *args, **kwargs):
        if _round_trips is not None and self.command_stack:
            db = _db_of(self)
            _round_trips[db] += 1
            _commands[db] += len(self.command_stack)
        return pipeline_execute(self, *args, **kwargs)

    redis.client.Redis.execute_command = counted_execute_command
    redis.client.Pipeline.execute = counted_pipeline_execute


def uninstall() -> None:
    global _originals
    if _originals is not None:
        redis.client.Redis.execute_command, redis.client.Pipeline.execute = _originals
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
