"""Sentinel failover: before a process trusts a sentinels' master it has not used yet (its first,
or a promoted replica), it checks it. Replication is asynchronous, so a new master may lack the
last bumps and revocations the old one acknowledged: unless this master was checked already (a
marker in the throttle database names it), the cache and revocation databases are flushed. Every
entry is then a miss and every revocation hash is rebuilt from PostgreSQL, so nothing the old
master knew and this one missed can show. Then the purposes' recovery is due on that server
(the invalidation debts written while no master answered)."""

import logging
import threading
from typing import TYPE_CHECKING

from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.sentinel import SentinelManagedConnection

from utils.redis_layer.clients import CACHE, REVOCATION, THROTTLE, sentinel_server

if TYPE_CHECKING:
    from utils.redis_layer.layer import RedisLayer

logger = logging.getLogger("resee.redis")


class Failover:
    """One layer's marks: the master address it last used, by master name, and the servers whose
    master must be checked before their next answer."""

    def __init__(self):
        self.masters: dict[str, tuple[str, int]] = {}
        self.unchecked: set[str] = set()
        self._lock = threading.Lock()
        self.connection_class = _watched_connection(self)

    def seen(self, name: str, address: tuple[str, int]) -> None:
        """A connection to master `name` goes to `address`: if that is another server than the
        last one, the call fails (as an outage would) and the server's master must be checked."""
        known = self.masters.setdefault(name, address)
        if known != address:
            with self._lock:
                self.masters[name] = address
                self.unchecked.add(sentinel_server(name))
            raise RedisConnectionError(f"master {name} moved from {known} to {address}")

    def check(self, layer: "RedisLayer", server: str) -> None:
        """Flush what the master may have missed, once per master (see the module docstring)."""
        name = settings.REDIS_SENTINEL_MASTER
        address = layer.sentinels().discover_master(name)
        with self._lock:
            self.masters[name] = address
        marker, here = layer.make_key(THROTTLE, "sentinel-master"), f"{address[0]}:{address[1]}"
        throttle = layer.route(THROTTLE).client
        if (throttle.get(marker) or b"").decode() != here:
            for purpose in (CACHE, REVOCATION):
                layer.route(purpose).client.flushdb()
            throttle.set(marker, here)
            logger.warning("redis: master %s is now %s: cache and revocation databases flushed", name, here)
        layer.require_recovery_on(server)
        self.unchecked.discard(server)


def _watched_connection(failover: Failover) -> type[SentinelManagedConnection]:
    class WatchedConnection(SentinelManagedConnection):
        """A connection to the sentinels' master that tells `failover` where it goes."""

        def connect_to(self, address):
            failover.seen(self.connection_pool.service_name, address)
            super().connect_to(address)

    return WatchedConnection
