"""The clients of each REDIS_MODE, as the settings configure them, and the operator's client.

- `standalone`: each purpose on its own database of one server, through the django-redis pool of
  its CACHES alias (PURPOSES);
- `sentinel`: the same databases on the master the sentinels name (REDIS_SENTINELS), on
  connections that notice a failover (utils.redis_layer.failover);
- `cluster`: one RedisCluster client shared by every purpose, kept apart by key prefix (a cluster
  has no databases).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import caches
from redis import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

STANDALONE, SENTINEL, CLUSTER = "standalone", "sentinel", "cluster"
MODES = (STANDALONE, SENTINEL, CLUSTER)
THROTTLE, CACHE, REVOCATION, JOBS = "throttle", "cache", "revocation", "jobs"
# Purpose -> the CACHES alias holding its database, key prefix and connection pool.
PURPOSES = {THROTTLE: "default", CACHE: "api", REVOCATION: "revocation", JOBS: "jobs"}

# Note: seconds, not a request's REDIS_TIMEOUT: an operator's SCAN over a large keyspace may meet
# a busy moment of the server (or of a shared VM), and must slow down then, not abort halfway.
OPERATOR_TIMEOUT = 10.0


def location(purpose: str) -> str:
    return settings.CACHES[PURPOSES[purpose]]["LOCATION"]


def standalone(purpose: str) -> Redis:
    """The purpose's database, from its CACHES alias' pool (the process's, whatever the layer)."""
    return caches[PURPOSES[purpose]].client.get_client(write=True)


def sentinels() -> Sentinel:
    """The sentinels, asked with REDIS_TIMEOUT and no retries of redis-py's own.
    # Note: a client of its own (a sentinel's) would retry a dead sentinel ten times with backoff,
    # seconds in all, inside the request that needs the master's address."""
    options = {
        "socket_timeout": settings.REDIS_TIMEOUT,
        "socket_connect_timeout": settings.REDIS_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
        "password": settings.REDIS_SENTINEL_PASSWORD,
    }
    return Sentinel(list(settings.REDIS_SENTINELS), sentinel_kwargs=options)


def sentinel_master(manager: Sentinel, purpose: str, connection_class: type) -> Redis:
    """The purpose's database on the sentinels' master, on connections of `connection_class`."""
    return manager.master_for(
        settings.REDIS_SENTINEL_MASTER,
        connection_class=connection_class,
        db=int(urlsplit(location(purpose)).path.strip("/") or 0),
        password=settings.REDIS_PASSWORD,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        health_check_interval=30,
    )


def cluster() -> RedisCluster:
    """A cluster's client (it holds a pool per node), from one startup node.
    # Note: no retries of its own: a dead node's calls fail at once and that node's breaker
    # takes over; MOVED and ASK are still followed."""
    return RedisCluster.from_url(
        settings.REDIS_URL,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        require_full_coverage=False,
        health_check_interval=30,
    )


def server_name(purpose: str) -> str:
    """The name of the server the purpose's calls go to, as its breaker and gauge know it."""
    if settings.REDIS_MODE == CLUSTER:
        return f"cluster {urlsplit(settings.REDIS_URL).netloc}"
    if settings.REDIS_MODE == SENTINEL:
        return sentinel_server(settings.REDIS_SENTINEL_MASTER)
    return urlsplit(location(purpose)).netloc


def sentinel_server(master: str) -> str:
    return f"sentinel {master}"


@contextmanager
def operator_client(found: Redis | RedisCluster) -> Iterator[Redis | RedisCluster]:
    """A client for operator commands (a SCAN of every key) to `found`'s server and database, on
    connections of its own with OPERATOR_TIMEOUT, closed afterwards. A stand-in is itself."""
    if isinstance(found, RedisCluster):
        own = RedisCluster.from_url(settings.REDIS_URL, socket_timeout=OPERATOR_TIMEOUT, require_full_coverage=False)
    elif isinstance(found, Redis):
        own = Redis(connection_pool=_own_pool(found.connection_pool, OPERATOR_TIMEOUT))
    else:  # a test's stand-in
        yield found
        return
    try:
        yield own
    finally:
        own.close()


def probe_client(found: Redis | RedisCluster, server: str) -> Redis | None:
    """A client of its own (REDIS_TIMEOUT) to `server` as `found` reaches it: the same server
    (on a cluster, the node named `server`), or wherever the sentinels say the master is now.
    None when there is no address to ask: a test's stand-in, or a whole cluster."""
    if isinstance(found, RedisCluster):
        node = found.get_node(node_name=server)
        found = node.redis_connection if node is not None else None
    if not isinstance(found, Redis):
        return None
    return Redis(connection_pool=_own_pool(found.connection_pool, settings.REDIS_TIMEOUT))


def _own_pool(pool: ConnectionPool, timeout: float) -> ConnectionPool:
    kwargs = {**pool.connection_kwargs, "socket_timeout": timeout, "connection_class": pool.connection_class}
    if isinstance(pool, SentinelConnectionPool):
        return SentinelConnectionPool(pool.service_name, pool.sentinel_manager, **kwargs)
    return ConnectionPool(**kwargs)
