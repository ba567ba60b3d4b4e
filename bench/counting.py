"""Per-request counters for the in-process bench: SQL queries (Django's CaptureQueriesContext) and
Redis round trips by Redis database: one per packet a connection sends (a pipeline is sent in one
go, whatever it holds, by redis-py's Pipeline, a cluster's, or utils.redis_layer's own exchange)."""

from collections import Counter
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection

_round_trips: Counter | None = None
_commands: Counter | None = None
_originals: dict | None = None


def install() -> None:
    """Wrap redis-py's connections while counting; `uninstall()` puts the originals back, so no
    timed request pays for the wrappers."""
    global _originals
    if _originals is not None:
        return
    _originals = {
        name: getattr(AbstractConnection, name) for name in ("send_packed_command", "send_command", "pack_commands")
    }
    send, one, pack_many = _originals.values()

    def send_packed_command(self, command, check_health=True):
        if _round_trips is not None:
            _round_trips[int(self.db or 0)] += 1
        return send(self, command, check_health)

    def send_command(self, *args, **kwargs):  # one command (packed and sent by send_packed_command)
        if _commands is not None:
            _commands[int(self.db or 0)] += 1
        return one(self, *args, **kwargs)

    def pack_commands(self, commands):
        if _commands is not None:
            _commands[int(self.db or 0)] += len(commands)
        return pack_many(self, commands)

    for name, wrapper in (
        ("send_packed_command", send_packed_command),
        ("send_command", send_command),
        ("pack_commands", pack_commands),
    ):
        setattr(AbstractConnection, name, wrapper)


def uninstall() -> None:
    global _originals
    if _originals is not None:
        for name, original in _originals.items():
            setattr(AbstractConnection, name, original)
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
