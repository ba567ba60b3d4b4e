"""The one seam between the application and Redis. Every Redis call of the project (the
revocation check, the throttle, the cache's lookups, stores, locks and bumps, the L1 channel, the
jobs' progress, the health probe) goes through `call` (or `call_for`, a call about one user),
which gives them one failure policy:

- a client per purpose, all with one timeout (REDIS_TIMEOUT). REDIS_MODE says where they go:
  `standalone`, each purpose on its own database of one server (the CACHES aliases in PURPOSES,
  whose django-redis pools hold the connections); `sentinel`, the same databases on the master
  the sentinels name, followed through failovers (see `_failed_over`); `cluster`, one
  RedisCluster client shared by every purpose, kept apart by key prefix (a cluster has no
  databases), every key of a user on the user's hash tag (`user_tag`);
- one circuit breaker per Redis server, shared by every purpose on it: after
  REDIS_BREAKER_FAILURES failures in a row nobody waits on that server for
  REDIS_BREAKER_COOLDOWN_SECONDS, then one call probes it. On a cluster a server is a node: a
  call about a user goes through the breaker of the node that serves the user's slot, so a dead
  node's users bypass while everyone else's calls go on;
- recovery hooks (`on_recovery`): a purpose that registered one owes it, per server, when the
  process starts, when that server's circuit opens and when it says something was lost there
  (`owe`); its next call to that server runs the hook first, for that server, before it uses any
  answer. The cache pays its invalidation debts there;
- one place that counts failed calls (resee_redis_errors_total{purpose,operation}) and logs them.

Callers get RedisUnavailable and degrade as they document: the revocation check asks the
database (fail safe), the throttle allows (fail open), the cache serves from the database
(BYPASS). Tests swap a purpose's client with `use(...)`, nothing else.
"""

import functools
import itertools
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import caches
from django.core.signals import setting_changed
from django.db import DatabaseError
from prometheus_client import Counter, Gauge
from redis import ConnectionPool, Redis
from redis.backoff import NoBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisClusterException, RedisError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool, SentinelManagedConnection

from utils.breaker import CLOSED, CircuitBreaker

logger = logging.getLogger("resee.redis")
T = TypeVar("T")

STANDALONE, SENTINEL, CLUSTER = "standalone", "sentinel", "cluster"
MODES = (STANDALONE, SENTINEL, CLUSTER)
THROTTLE, CACHE, REVOCATION, JOBS = "throttle", "cache", "revocation", "jobs"
# Purpose -> the CACHES alias holding its database, key prefix and connection pool.
PURPOSES = {THROTTLE: "default", CACHE: "api", REVOCATION: "revocation", JOBS: "jobs"}

ERRORS = Counter("resee_redis_errors", "Failed Redis calls by purpose and operation", ["purpose", "operation"])
BREAKER_OPEN = Gauge(
    "resee_redis_breaker_open",
    "1 while the circuit to this Redis server is not closed (in any live worker)",
    ["server"],
    multiprocess_mode="livemax",
)


class RedisUnavailable(Exception):
    """Redis is down or slow, or its breaker is open: degrade instead."""


@dataclass(frozen=True)
class Route:
    """What one purpose talks to: its client, its server (whose breaker `_breaker` keeps), its
    key prefix. On a cluster, `server` names the cluster, for the calls that are about no user."""

    client: Redis | RedisCluster
    server: str
    prefix: str
    cluster: bool = False


_routes: dict[str, Route] = {}
_breakers: dict[str, CircuitBreaker] = {}
_swapped: dict[str, tuple[Redis, str]] = {}  # purpose -> (stand-in client, its server's name)
_hooks: dict[str, list[Callable[[str], object]]] = defaultdict(list)
# Debts, by number: (purpose, server) -> the latest one owed there, (purpose, None) -> the latest
# one owed on every server; (purpose, server) -> the latest one its recovery there has paid.
_owed: dict[tuple[str, str | None], int] = {}
_paid: dict[tuple[str, str], int] = {}
_debts = itertools.count(1)
# Sentinel: master name -> the address this process last used; servers whose master changed (or
# is not known yet) and must be checked before their next answer (`_failed_over`).
_masters: dict[str, tuple[str, int]] = {}
_failover_owed: set[str] = set()
_lock = threading.RLock()  # route() builds under it, and building asks for a breaker
_stand_ins = itertools.count(1)


def route(purpose: str) -> Route:
    found = _routes.get(purpose)
    if found is None:
        with _lock:
            found = _routes[purpose] = _routes.get(purpose) or _build(purpose)
    return found


def _build(purpose: str) -> Route:
    config = settings.CACHES[PURPOSES[purpose]]
    if purpose in _swapped:
        client, server = _swapped[purpose]
    elif settings.REDIS_MODE == CLUSTER:
        client, server = cluster_client(settings.REDIS_URL), f"cluster {urlsplit(settings.REDIS_URL).netloc}"
    elif settings.REDIS_MODE == SENTINEL:
        client, server = connect(purpose), _sentinel_server(settings.REDIS_SENTINEL_MASTER)
        _failover_owed.add(server)
    else:
        client, server = connect(purpose), urlsplit(config["LOCATION"]).netloc
    _breaker(server)  # Note: its gauge reads 0 from the start
    return Route(client=client, server=server, prefix=config["KEY_PREFIX"], cluster=isinstance(client, RedisCluster))


def _breaker(server: str) -> CircuitBreaker:
    found = _breakers.get(server)
    if found is None:
        with _lock:
            found = _breakers.get(server)
            if found is None:
                found = _breakers[server] = CircuitBreaker(
                    failure_threshold=settings.REDIS_BREAKER_FAILURES,
                    cooldown_seconds=settings.REDIS_BREAKER_COOLDOWN_SECONDS,
                )
                _gauge(server).set(0)
    return found


def connect(purpose: str) -> Redis:
    """The purpose's client as the settings configure it (a standalone server's or the sentinels'
    master's), whatever `use` swapped in."""
    if settings.REDIS_MODE != SENTINEL:
        return caches[PURPOSES[purpose]].client.get_client(write=True)
    return sentinels(tuple(settings.REDIS_SENTINELS)).master_for(
        settings.REDIS_SENTINEL_MASTER,
        connection_class=_WatchedConnection,
        db=int(urlsplit(settings.CACHES[PURPOSES[purpose]]["LOCATION"]).path.strip("/") or 0),
        password=settings.REDIS_PASSWORD,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        health_check_interval=30,
    )


@functools.cache
def sentinels(addresses: tuple[tuple[str, int], ...]) -> Sentinel:
    timeouts = {"socket_timeout": settings.REDIS_TIMEOUT, "socket_connect_timeout": settings.REDIS_TIMEOUT}
    return Sentinel(list(addresses), sentinel_kwargs={**timeouts, "password": settings.REDIS_SENTINEL_PASSWORD})


def _sentinel_server(master: str) -> str:
    return f"sentinel {master}"


class _WatchedConnection(SentinelManagedConnection):
    """A connection to the sentinels' master that notices when the master is another server:
    the call that notices fails (as an outage would) and the server owes the failover check."""

    def connect_to(self, address):
        name = self.connection_pool.service_name
        known = _masters.setdefault(name, address)
        if known != address:
            with _lock:
                _masters[name] = address
                _failover_owed.add(_sentinel_server(name))
            raise RedisConnectionError(f"master {name} moved from {known} to {address}")
        super().connect_to(address)


@functools.cache
def cluster_client(url: str) -> RedisCluster:
    """One client per process for a cluster (it holds a pool per node), from one startup node.
    # Note: no retries of its own: a dead node's calls fail at once and that node's breaker
    # takes over; MOVED and ASK are still followed."""
    return RedisCluster.from_url(
        url,
        socket_timeout=settings.REDIS_TIMEOUT,
        socket_connect_timeout=settings.REDIS_TIMEOUT,
        retry=Retry(NoBackoff(), 0),
        require_full_coverage=False,
        health_check_interval=30,
    )


def client(purpose: str) -> Redis | RedisCluster:
    """The raw client: for pipelines inside a `call`, and for operator commands, which want to
    see Redis errors."""
    return route(purpose).client


# Note: seconds, not a request's REDIS_TIMEOUT: an operator's SCAN over a large keyspace may meet
# a busy moment of the server (or of a shared VM), and must slow down then, not abort halfway.
OPERATOR_TIMEOUT = 10.0


@contextmanager
def operator_client(purpose: str) -> Iterator[Redis | RedisCluster]:
    """The purpose's client for operator commands (a SCAN of every key): the same server and
    database, on connections of its own with OPERATOR_TIMEOUT, closed afterwards. No breaker:
    an operator wants to see the error."""
    found = route(purpose).client
    if isinstance(found, RedisCluster):
        own = RedisCluster.from_url(settings.REDIS_URL, socket_timeout=OPERATOR_TIMEOUT, require_full_coverage=False)
    elif isinstance(found, Redis):
        pool = found.connection_pool
        kwargs = {
            **pool.connection_kwargs,
            "socket_timeout": OPERATOR_TIMEOUT,
            "connection_class": pool.connection_class,
        }
        if isinstance(pool, SentinelConnectionPool):
            own = Redis(connection_pool=SentinelConnectionPool(pool.service_name, pool.sentinel_manager, **kwargs))
        else:
            own = Redis(connection_pool=ConnectionPool(**kwargs))
    else:  # a test's stand-in
        yield found
        return
    try:
        yield own
    finally:
        own.close()


def breaker(purpose: str, user_id: int | None = None) -> CircuitBreaker:
    return _breaker(server_of(purpose, user_id))


def user_tag(user_id: int) -> str:
    """Every key of one user, whatever its purpose, carries this Redis Cluster hash tag: a
    request's commands (revocation, throttle, namespace token and entry) and the Lua scripts
    then stay on one slot, one node, one round trip."""
    return f"{{u{int(user_id)}}}"


def server_of(purpose: str, user_id: int | None = None) -> str:
    """The server a call about `user_id` goes to: on a cluster, the node serving the user's slot
    (as far as this process knows the slot map); otherwise, or about no user, the purpose's."""
    found = route(purpose)
    if not found.cluster or user_id is None:
        return found.server
    try:
        return found.client.get_node_from_key(user_tag(user_id)).name
    except RedisClusterException:  # a slot no node serves: the cluster's breaker decides
        return found.server


def make_key(purpose: str, key: str, version: int | str = 1) -> str:
    """`<prefix>:<version>:<key>`, the layout of Django's cache keys, so keys stay what they were."""
    return f"{route(purpose).prefix}:{version}:{key}"


def healthy(purpose: str, user_id: int | None = None) -> bool:
    """Closed circuit and nothing owed on the server of `user_id`'s calls: when an in-process copy
    of Redis data may be served."""
    server = server_of(purpose, user_id)
    if _breaker(server).state != CLOSED:
        return False
    # Note: on a cluster, a question about no user cannot tell which node's debts matter; every
    # call about a user pays its own node's before it reads.
    return (route(purpose).cluster and user_id is None) or not _owes(purpose, server)


def call(purpose: str, operation: str, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` behind the purpose's breaker, after its recovery hooks if it owes
    them: RedisUnavailable if the breaker is open or a call fails (counted and logged). Any other
    exception (say, CacheMiss) means Redis answered, and passes through."""
    return _call(purpose, route(purpose).server, operation, fn, args, kwargs)


def call_for(user_id: int, purpose: str, operation: str, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`call` for a call about one user (every key it touches carries `user_tag(user_id)`): on a
    cluster it goes through the breaker, and pays the debts, of the node serving that user."""
    return _call(purpose, server_of(purpose, user_id), operation, fn, args, kwargs)


def _call(purpose: str, server: str, operation: str, fn, args, kwargs):
    circuit = _breaker(server)
    if not circuit.allow():
        raise RedisUnavailable(f"{purpose} {operation}: circuit to {server} open")
    try:
        if _failover_owed and server in _failover_owed:
            _failed_over(server)
        if due := _owes(purpose, server):
            _recover(purpose, server, due)
        result = fn(*args, **kwargs)
    except RedisError as exc:
        circuit.record_failure()
        if circuit.state != CLOSED:
            _owe_server(server)
        _gauge(server).set(circuit.state != CLOSED)
        _errors(purpose, operation).inc()
        logger.warning("redis: %s %s on %s failed (circuit %s): %s", purpose, operation, server, circuit.state, exc)
        raise RedisUnavailable(f"{purpose} {operation}") from exc
    except BaseException:
        _succeeded(server, circuit)
        raise
    _succeeded(server, circuit)
    return result


def gather(operation: str, commands: dict[str, list[tuple]], *, user_id: int | None = None) -> dict[str, list]:
    """Several purposes' commands, `{purpose: [("HMGET", key, field, ...), ...]}`, in one round
    trip per server: the purposes on one server share a connection, a pipeline switching
    databases with SELECT (and back), so a request's revocation check, throttle counters and
    cache lookup cost one round trip together (on a cluster: one pipeline, to the node of the
    user whose keys these are). The replies, by purpose; a purpose whose server could not be
    asked (as `call` would raise RedisUnavailable) has none: the others still answer.
    """
    by_server: dict[str, list[str]] = defaultdict(list)
    servers: dict[str, str] = {}  # route's server -> where this user's calls go (one slot lookup)
    for purpose in commands:
        home = route(purpose).server
        if home not in servers:
            servers[home] = server_of(purpose, user_id)
        by_server[servers[home]].append(purpose)
    replies: dict[str, list] = {}
    for server, (lead, *others) in by_server.items():
        try:
            for purpose in others:
                if _owes(purpose, server):  # the lead's call runs only the lead's hooks
                    _call(purpose, server, "recover", _nothing, (), {})
            batch = {purpose: commands[purpose] for purpose in [lead, *others]}
            replies.update(_call(lead, server, operation, _send, (batch,), {}))
        except RedisUnavailable:
            continue  # counted and logged by `call`
    return replies


def _nothing() -> None:
    return None


def _send(commands: dict[str, list[tuple]]) -> dict[str, list]:
    clients = [route(purpose).client for purpose in commands]
    if all(client is clients[0] for client in clients):  # one database, or a cluster: no SELECT
        return _split(_pipeline(clients[0], commands), commands, switched=False)
    if not all(isinstance(client, Redis) for client in clients):
        # Stand-ins of tests cannot switch databases: a pipeline each.
        return {purpose: _pipeline(route(purpose).client, {purpose: cmds}) for purpose, cmds in commands.items()}
    return _split(_pipeline(clients[0], commands, switch=True), commands)


def _pipeline(client: Redis | RedisCluster, commands: dict[str, list[tuple]], *, switch: bool = False) -> list:
    home = current = _db(client) if switch else 0
    queued = []
    for purpose, cmds in commands.items():
        if switch and (db := _db(route(purpose).client)) != current:
            queued.append(("SELECT", db))
            current = db
        queued.extend(cmds)
    if current != home:
        queued.append(("SELECT", home))  # Note: the pooled connection must go back as it came
    if isinstance(client, Redis):
        return _exchange(client.connection_pool, queued)
    pipe = client.pipeline(transaction=False)  # a cluster's (it finds the node), or a test's stand-in
    for command in queued:
        pipe.execute_command(*command)
    return pipe.execute()


def _exchange(pool, commands: list[tuple]) -> list:
    """One round trip on one pooled connection: every command in one packet, then every reply,
    raw (SELECT answers b"OK", EXPIRE 1). What redis-py's Pipeline does too, less the ~60 us of
    bookkeeping per call (retry wrapper, reply callbacks, HIMPORT preflight) none of these
    commands needs: it was a third of a hit's Redis time. An error reply is raised, as
    Pipeline's first error would be, once the connection is dropped: replies left unread on it
    must never reach its next user."""
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        return [connection.read_response() for _ in commands]
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def _split(replies: list, commands: dict[str, list[tuple]], *, switched: bool = True) -> dict[str, list]:
    """Each purpose's replies, without the SELECTs' (a SELECT precedes a purpose whose database
    differs from the one before)."""
    out, at = {}, 0
    current = _db(route(next(iter(commands))).client) if switched else 0
    for purpose, cmds in commands.items():
        if switched and (db := _db(route(purpose).client)) != current:
            at, current = at + 1, db
        out[purpose], at = replies[at : at + len(cmds)], at + len(cmds)
    return out


def _db(client: Redis) -> int:
    return int(client.connection_pool.connection_kwargs.get("db") or 0)


def on_recovery(purpose: str, hook: Callable[[str], object]) -> None:
    """Run `hook(server)` before the purpose's next answer from a server whenever it owes
    recovery there (see the module docstring). A Redis error in the hook fails the call like any
    other; a database error fails only this call (RedisUnavailable), is not counted against
    Redis, and the hook stays owed."""
    if hook not in _hooks[purpose]:
        _hooks[purpose].append(hook)
    owe(purpose)


def owe(purpose: str, user_id: int | None = None) -> None:
    """Something meant for this purpose's Redis was lost (an invalidation), on the server of
    `user_id` (on every server when None): none of its answers from there may be used until its
    recovery hooks have run."""
    server = server_of(purpose, user_id) if user_id is not None else None
    _owed[purpose, server] = next(_debts)


def _owes(purpose: str, server: str) -> int:
    """The number of the latest debt the purpose owes on this server, 0 if it owes none."""
    if not _owed:
        return 0
    due = max(_owed.get((purpose, server), 0), _owed.get((purpose, None), 0))
    return due if due > _paid.get((purpose, server), 0) else 0


def _owe_server(server: str) -> None:
    # Note: while a server is away, other processes may lose writes meant for it (kept in the
    # database as debts): whatever used it pays them before trusting it again.
    for purpose in list(_hooks):
        found = route(purpose)
        if found.server == server or found.cluster:
            _owed[purpose, server] = next(_debts)


def _failed_over(server: str) -> None:
    """Before a process trusts a sentinels' master it has not used yet (its first, or a promoted
    replica): replication is asynchronous, so the new master may lack the last bumps and
    revocations the old one acknowledged. Unless this master was checked already (a marker in
    the throttle database names it), the cache and revocation databases are flushed: every
    entry is then a miss and every revocation hash is rebuilt from PostgreSQL, so nothing the
    old master knew and this one missed can show. Then the purposes owe their recovery (the
    invalidation debts written while no master answered)."""
    name = settings.REDIS_SENTINEL_MASTER
    address = sentinels(tuple(settings.REDIS_SENTINELS)).discover_master(name)
    with _lock:
        _masters[name] = address
    marker, here = make_key(THROTTLE, "sentinel-master"), f"{address[0]}:{address[1]}"
    if (route(THROTTLE).client.get(marker) or b"").decode() != here:
        for purpose in (CACHE, REVOCATION):
            route(purpose).client.flushdb()
        route(THROTTLE).client.set(marker, here)
        logger.warning("redis: master %s is now %s: cache and revocation databases flushed", name, here)
    _owe_server(server)
    _failover_owed.discard(server)


def _recover(purpose: str, server: str, due: int) -> None:
    try:
        for hook in _hooks[purpose]:
            hook(server)
    except DatabaseError as exc:
        logger.warning("redis: %s recovery waits for the database: %s", purpose, exc)
        raise RedisUnavailable(f"{purpose} recovery") from exc
    # Note: a debt owed while the hooks ran (another thread's lost bump) has a later number and
    # stays owed.
    with _lock:
        _paid[purpose, server] = max(_paid.get((purpose, server), 0), due)


def _succeeded(server: str, circuit: CircuitBreaker) -> None:
    if circuit.record_success():
        _gauge(server).set(0)
        logger.info("redis: %s reachable again, circuit closed", server)


# Note: resolving a labelled child costs a lock and a dict lookup per call; bind each once.
@functools.cache
def _errors(purpose: str, operation: str):
    return ERRORS.labels(purpose=purpose, operation=operation)


@functools.cache
def _gauge(server: str):
    return BREAKER_OPEN.labels(server=server)


def reset() -> None:
    """Forget clients and breakers and owe every recovery hook again, as a new process would
    (settings changes, tests)."""
    with _lock:
        _routes.clear()
        _breakers.clear()
        _paid.clear()
        _owed.clear()
        _masters.clear()
        _failover_owed.clear()
        for purpose in _hooks:
            _owed[purpose, None] = next(_debts)


@contextmanager
def use(**clients: Redis) -> Iterator[None]:
    """Swap purposes' clients, e.g. `with use(cache=BrokenRedis()):`. The stand-ins of one `use`
    are one server of their own, with its own breaker. The one injection seam of the tests."""
    unknown = set(clients) - set(PURPOSES)
    if unknown:
        raise ValueError(f"unknown Redis purposes: {sorted(unknown)}")
    previous, server = dict(_swapped), f"stand-in-{next(_stand_ins)}"
    _swapped.update((purpose, (stand_in, server)) for purpose, stand_in in clients.items())
    reset()
    try:
        yield
    finally:
        _swapped.clear()
        _swapped.update(previous)
        reset()


def _reload(*, setting: str, **kwargs) -> None:
    if setting == "CACHES" or setting.startswith("REDIS_"):
        reset()


setting_changed.connect(_reload)
