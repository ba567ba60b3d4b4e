"""Sentinel failover: before a process trusts a sentinels' master it has not used yet (its first,
or a promoted replica), it checks it. Replication is asynchronous, so a new master may lack the
last bumps and revocations the old one acknowledged: unless this master was checked already in
the sentinels' current configuration (a marker in the throttle database names the config epoch,
one more at each failover), the cache and revocation databases are flushed. Every entry is then
a miss and every revocation hash is rebuilt from PostgreSQL, so nothing the old master knew and
this one missed can show. Then the purposes' recovery is due on that server (the invalidation
debts written while no master answered).

Until the check has run, no connection of the layer may reach the new master: the one that finds
it raises MasterMoved, the cue for the check (not a failure of Redis: the layer runs the check and
the call again). The check's own connections go ahead. The sentinels' announcement of a new
master (`+switch-master`, heard by a thread of the layer's: `listen`) is the same cue: a deposed
master is still a master until they demote it, seconds later, and the connections still open to
it would read its data, missing every write sent since to the new one.

A write that must survive a failover (a bump, a revocation: `RedisLayer.execute_durably`) also
waits for a replica to have it. The old master takes writes from the connections still open to
it between the replica's promotion and its own demotion, then drops them; one no replica
acknowledged, from a master the sentinels no longer name, is the same cue (`unreplicated`)."""

import logging
import threading
import time
import weakref
from typing import TYPE_CHECKING

from django.conf import settings
from redis import Redis
from redis.exceptions import RedisError
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelManagedConnection

from utils.redis_layer.clients import CACHE, REVOCATION, THROTTLE, sentinel_server

if TYPE_CHECKING:
    from utils.redis_layer.layer import RedisLayer

logger = logging.getLogger("resee.redis")
LISTEN_SECONDS = 1.0  # how long the listener waits for a message before it looks at its layer again


class MasterMoved(RedisError):
    """A connection found the sentinels' master at an address the layer has not checked yet.
    # Note: not a ConnectionError, which redis-py would retry with backoff: the connection was
    # never made, nothing was sent, and the layer's check must run before anything is."""


class Failover:
    """One layer's marks: the master address it checked last, by master name, and the servers
    whose master must be checked before their next answer."""

    def __init__(self):
        self.masters: dict[str, tuple[str, int]] = {}
        self.unchecked: set[str] = set()
        self._lock = threading.Lock()
        self._checking = threading.local()  # the address this thread's check may connect to
        self.connection_class = _watched_connection(self)
        self._listening = False

    def seen(self, name: str, address: tuple[str, int]) -> None:
        """A connection to master `name` goes to `address`: unless that is the master checked
        last (or the one this thread is checking), MasterMoved, and the server's master must be
        checked. A process's first master is taken as it is (the check is due from the start)."""
        known = self.masters.setdefault(name, address)
        if address not in (known, getattr(self._checking, "address", None)):
            self.unchecked.add(sentinel_server(name))
            raise MasterMoved(f"master {name} moved from {known} to {address}")

    def check(self, layer: "RedisLayer", server: str) -> None:
        """Flush what the master may have missed, once per master (see the module docstring)."""
        name = settings.REDIS_SENTINEL_MASTER
        address, epoch = named_master(layer.sentinels(), name)
        if self.masters.get(name) not in (None, address):
            # Note: a connection made to the old master must neither serve the check nor outlive
            # it: back in the pool, it would answer from that server (a replica by then, or a
            # master again later) with no check at all.
            layer.disconnect()
        self._checking.address = address
        try:
            self._flush_unless_checked(layer, name, address, epoch)
        finally:
            self._checking.address = None
        with self._lock:
            self.masters[name] = address
        layer.require_recovery_on(server)
        self.unchecked.discard(server)

    def unreplicated(self, layer: "RedisLayer", server: str) -> None:
        """A write the master took that no replica acknowledged in time. A replica away or slow:
        the sentinels still name this master, and the write stands. A master they no longer name
        (a replica promoted while this process still reached the old one, which takes writes
        until it is demoted, and loses them then): every connection of the layer is dropped and
        MasterMoved is the cue, so the check runs on the new master and the write goes again
        there."""
        name = settings.REDIS_SENTINEL_MASTER
        address, _ = named_master(layer.sentinels(), name)
        if address == self.masters.get(name):
            return
        layer.disconnect()
        self.unchecked.add(server)
        raise MasterMoved(f"master {name} moved from {self.masters.get(name)} to {address} under a write")

    def listen(self, layer: "RedisLayer") -> None:
        """Hear the sentinels' `+switch-master` from a thread of its own (started once, gone with
        the layer): the master named in it must be checked before the next call."""
        with self._lock:
            if self._listening:
                return
            self._listening = True
        args = (weakref.ref(layer), settings.REDIS_SENTINEL_MASTER)
        threading.Thread(target=_listen, args=args, name="redis sentinel switches", daemon=True).start()

    def _flush_unless_checked(self, layer: "RedisLayer", name: str, address: tuple[str, int], epoch: int) -> None:
        # Note: the marker names the failover, not the server (its address, its replication ID):
        # a deposed master the sentinels have not demoted yet is still a master, and may be named
        # again, same ID and dataset, having missed every write of the term it was away.
        throttle = layer.route(THROTTLE).client
        marker, here = layer.make_key(THROTTLE, "sentinel-master"), str(epoch)
        if (throttle.get(marker) or b"").decode() != here:
            for purpose in (CACHE, REVOCATION):
                # Note: ASYNC empties the database at once and frees its memory in the
                # background: a synchronous flush of a full cache would stall the new master.
                layer.route(purpose).client.flushdb(asynchronous=True)
            throttle.set(marker, here)
            logger.warning("redis: master %s is now %s:%s: cache and revocation databases flushed", name, *address)


def named_master(manager: Sentinel, name: str) -> tuple[tuple[str, int], int]:
    """The master's address and config epoch as the first sentinel that names one sees them (both
    from one answer: `Sentinel.discover_master` gives the address alone)."""
    for sentinel in manager.sentinels:
        try:
            state = sentinel.sentinel_master(name)
        except RedisError:
            continue  # the next sentinel
        if manager.check_master_state(state, name):
            return (state["ip"], state["port"]), state["config-epoch"]
    raise MasterNotFoundError(f"no sentinel names a master {name!r}")


def _listen(layer_ref: "weakref.ref[RedisLayer]", name: str) -> None:
    """Hear one sentinel after another (the next when one fails) until the layer is gone."""
    while (layer := layer_ref()) is not None:
        sentinels = layer.sentinels().sentinels
        del layer  # Note: held only while a message is handled, so the thread ends with its layer
        for sentinel in sentinels:
            try:
                return _hear(sentinel, layer_ref, name)
            except RedisError:
                continue
        time.sleep(LISTEN_SECONDS)


def _hear(sentinel: Redis, layer_ref: "weakref.ref[RedisLayer]", name: str) -> None:
    with sentinel.pubsub() as pubsub:
        pubsub.subscribe("+switch-master")
        while (layer := layer_ref()) is not None:
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=LISTEN_SECONDS)
            if message and message["data"].split()[0].decode() == name:
                layer.failover.unchecked.add(sentinel_server(name))
            del layer


def _watched_connection(failover: Failover) -> type[SentinelManagedConnection]:
    class WatchedConnection(SentinelManagedConnection):
        """A connection to the sentinels' master that tells `failover` where it goes."""

        def connect_to(self, address):
            failover.seen(self.connection_pool.service_name, address)
            super().connect_to(address)

    return WatchedConnection
