"""Per-request counters for the in-process bench: SQL queries (Django's CaptureQueriesContext) and
Redis round trips by Redis database: one per packet a connection sends (a pipeline is sent in one
go, whatever it holds, by redis-py's Pipeline, a cluster's, or the app's own exchange). Each
packet's commands are also kept, with its connection, for the limit (bench/views.py) to pack and
send again: the bench learns a hit's round trip by watching one, not from the app's key functions."""

from collections import Counter
from contextlib import contextmanager

from django.db import connection
from django.test.utils import CaptureQueriesContext
from redis.connection import AbstractConnection

_tally = None
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
        if _tally is not None:
            _tally.round_trips[int(self.db or 0)] += 1
            _tally.packets.append((self, _tally.pending))
            _tally.pending = []
        return send(self, command, check_health)

    def send_command(self, *args, **kwargs):  # one command (packed and sent by send_packed_command)
        if _tally is not None:
            _tally.commands[int(self.db or 0)] += 1
            _tally.pending = [args]
        return one(self, *args, **kwargs)

    def pack_commands(self, commands):
        if _tally is not None:
            _tally.commands[int(self.db or 0)] += len(commands)
            _tally.pending = list(commands)
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
        self.packets: list = []  # (connection, [command args, ...]) per packet sent
        self.pending: list = []


@contextmanager
def counting():
    global _tally
    install()
    tally = _tally = Tally()
    try:
        with CaptureQueriesContext(connection) as queries:
            yield tally
    finally:
        _tally = None
        uninstall()
    tally.sql = len(queries.captured_queries)
