"""The layer: this process's state of its use of Redis, on one object built from the settings,
and the failure policy every call goes through; the process's current layer, and the request's
round trip through it (`gather`). See the package's docstring."""

import functools
import itertools
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError
from prometheus_client import Counter, Gauge
from redis import Redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisClusterException, RedisError
from redis.sentinel import Sentinel

from utils.breaker import CLOSED, CircuitBreaker
from utils.redis_layer import clients, probe
from utils.redis_layer.clients import CLUSTER, PURPOSES, SENTINEL
from utils.redis_layer.failover import Failover, MasterMoved

logger = logging.getLogger("resee.redis")
T = TypeVar("T")

ERRORS = Counter("resee_redis_errors", "Failed Redis calls by purpose and operation", ["purpose", "operation"])
BREAKER_OPEN = Gauge(
    "resee_redis_breaker_open",
    "1 while the circuit to this Redis server is not closed (in any live worker)",
    ["server"],
    multiprocess_mode="livemax",
)

# Purpose -> the hooks the apps registered in AppConfig.ready() (`on_recovery`): the process's,
# run by whichever layer is current.
RECOVERY_HOOKS: dict[str, list[Callable[[str], object]]] = defaultdict(list)
_stand_in_servers = itertools.count(1)


class RedisUnavailable(Exception):
    """Redis is down or slow, or its breaker is open: degrade instead."""


@dataclass(frozen=True)
class Route:
    """What one purpose talks to: its client, its server (whose breaker the layer keeps), its key
    prefix. On a cluster, `server` names the cluster, for the calls that are about no user."""

    client: Any  # Redis | RedisCluster, or a test's stand-in
    server: str
    prefix: str
    cluster: bool = False
    db: int | None = None  # the database a Redis client selects; None for a cluster or a stand-in


class RedisLayer:
    """A route per purpose, a circuit breaker per server, the recoveries due per purpose and
    server, the sentinels' masters seen. Built from the settings (lazily: a route at its first
    use) and from `stand_ins`, clients that replace purposes' own, all one server of their own."""

    def __init__(self, *, stand_ins: Mapping[str, Any] | None = None):
        self.stand_ins = dict(stand_ins or {})
        if unknown := set(self.stand_ins) - set(PURPOSES):
            raise ValueError(f"unknown Redis purposes: {sorted(unknown)}")
        self._stand_in_server = f"stand-in-{next(_stand_in_servers)}"
        self._routes: dict[str, Route] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        # Recoveries, by number: (purpose, server) -> the latest one required there, (purpose, None)
        # -> the latest one required on every server; (purpose, server) -> the latest one run there.
        self._required: dict[tuple[str, str | None], int] = {}
        self._recovered: dict[tuple[str, str], int] = {}
        self._numbers = itertools.count(1)
        self.failover = Failover()
        self._cluster: RedisCluster | None = None
        self._sentinels: Sentinel | None = None
        self._lock = threading.RLock()  # route() builds under it, and building asks for a breaker
        for purpose in list(RECOVERY_HOOKS):
            self.require_recovery(purpose)  # as in a process starting up

    def fresh(self) -> "RedisLayer":
        """A new layer with the same stand-ins, as a process starting again would build it."""
        return RedisLayer(stand_ins=self.stand_ins)

    # --- Routes and clients ----------------------------------------------------------------------

    def route(self, purpose: str) -> Route:
        found = self._routes.get(purpose)
        if found is None:
            with self._lock:
                found = self._routes[purpose] = self._routes.get(purpose) or self._build(purpose)
        return found

    def _build(self, purpose: str) -> Route:
        if purpose in self.stand_ins:
            client, server = self.stand_ins[purpose], self._stand_in_server
        else:
            client, server = self._configured(purpose), clients.server_name(purpose)
            if settings.REDIS_MODE == SENTINEL:
                self.failover.unchecked.add(server)
                self.failover.listen(self)
        self.breaker_of(server)  # Note: its gauge reads 0 from the start
        prefix = settings.CACHES[PURPOSES[purpose]]["KEY_PREFIX"]
        db = int(client.connection_pool.connection_kwargs.get("db") or 0) if isinstance(client, Redis) else None
        return Route(client=client, server=server, prefix=prefix, cluster=isinstance(client, RedisCluster), db=db)

    def _configured(self, purpose: str) -> Redis | RedisCluster:
        return self.cluster() if settings.REDIS_MODE == CLUSTER else self.connect(purpose)

    def connect(self, purpose: str) -> Redis:
        """The purpose's own database as the settings configure it (a standalone server's, through
        its CACHES alias, or the sentinels' master's), whatever the stand-ins."""
        if settings.REDIS_MODE != SENTINEL:
            return clients.standalone(purpose)
        return clients.sentinel_master(self.sentinels(), purpose, self.failover.connection_class)

    def cluster(self) -> RedisCluster:
        """The layer's one client of a cluster, shared by every purpose."""
        with self._lock:
            if self._cluster is None:
                self._cluster = clients.cluster()
        return self._cluster

    def sentinels(self) -> Sentinel:
        with self._lock:
            if self._sentinels is None:
                self._sentinels = clients.sentinels()
        return self._sentinels

    # --- Servers and their breakers --------------------------------------------------------------

    def breaker_of(self, server: str) -> CircuitBreaker:
        found = self._breakers.get(server)
        if found is None:
            with self._lock:
                found = self._breakers.get(server)
                if found is None:
                    found = self._breakers[server] = CircuitBreaker(
                        failure_threshold=settings.REDIS_BREAKER_FAILURES,
                        cooldown_seconds=settings.REDIS_BREAKER_COOLDOWN_SECONDS,
                    )
                    _gauge(server).set(0)
        return found

    def server_of(self, purpose: str, user_id: int | None = None) -> str:
        found = self.route(purpose)
        if not found.cluster or user_id is None:
            return found.server
        try:
            return found.client.get_node_from_key(user_tag(user_id)).name
        except RedisClusterException:  # a slot no node serves: the cluster's breaker decides
            return found.server

    def make_key(self, purpose: str, key: str, version: int | str = 1) -> str:
        return f"{self.route(purpose).prefix}:{version}:{key}"

    def healthy(self, purpose: str, user_id: int | None = None) -> bool:
        server = self.server_of(purpose, user_id)
        if self.breaker_of(server).state != CLOSED:
            return False
        # Note: on a cluster, a question about no user cannot tell which node's recovery matters;
        # every call about a user runs its own node's before it reads.
        return (self.route(purpose).cluster and user_id is None) or not self._recovery_due(purpose, server)

    # --- Calls ---------------------------------------------------------------------------------

    def call_on(self, purpose: str, server: str, operation: str, fn: Callable[..., T], args=(), kwargs=None) -> T:
        """`fn(*args, **kwargs)` behind the server's breaker, after the master's check and the
        purpose's recovery there if they are due: RedisUnavailable if the breaker is open or a
        call fails (counted and logged). Any other exception (say, CacheMiss) means Redis
        answered, and passes through."""
        circuit = self._breakers.get(server) or self.breaker_of(server)
        # Note: a closed circuit that counts no failure lets the call through and has nothing to
        # reset after it: the common case reads it without taking the breaker's lock.
        steady = circuit.state == CLOSED and not circuit.failures
        if not steady and not circuit.allow():
            raise RedisUnavailable(f"{purpose} {operation}: circuit to {server} open")
        try:
            for attempt in (1, 2):
                if self.failover.unchecked and server in self.failover.unchecked:
                    self.failover.check(self, server)
                if due := self._recovery_due(purpose, server):
                    self._recover(purpose, server, due)
                try:
                    result = fn(*args, **(kwargs or {}))
                    break
                except MasterMoved:
                    # Note: the failover check's cue, not a failure: it runs, then the call again
                    # (the connection that found the new master was refused: nothing went there).
                    if attempt == 2:
                        raise
        except RedisError as exc:
            self._failed(purpose, server, operation, circuit, exc)
            raise RedisUnavailable(f"{purpose} {operation}") from exc
        except BaseException:
            if not steady:
                self._succeeded(server, circuit)
            raise
        if not steady:
            self._succeeded(server, circuit)
        return result

    def execute_durably(self, purpose: str, pipe) -> list:
        """`pipe.execute()` for a write that must outlive a failover. With Sentinel it also waits
        for one replica (WAIT, a tenth of REDIS_TIMEOUT), and a write no replica has from a
        master the sentinels no longer name goes again to the new one (`Failover.unreplicated`).
        Elsewhere, and for a test's stand-in, as it is.
        # Note: a replica acknowledges within a millisecond or not at all (away, or promoted); a
        # longer wait adds no safety, since the sentinels are asked either way, and one near the
        # socket's timeout turned a healthy master whose replica was away into a failing one: the
        # writer's circuit opened and its bumps became debts, while other processes served on."""
        if settings.REDIS_MODE != SENTINEL or purpose in self.stand_ins:
            return pipe.execute()
        pipe.execute_command("WAIT", 1, max(1, int(settings.REDIS_TIMEOUT * 100)))
        *replies, replicas = pipe.execute()
        if replicas < 1:
            self.failover.unreplicated(self, self.route(purpose).server)
        return replies

    def disconnect(self) -> None:
        """Close every connection of every purpose's client: the next ones are made anew."""
        for found in list(self._routes.values()):
            found.client.connection_pool.disconnect()

    def send(self, commands: dict[str, list[tuple]]) -> dict[str, list]:
        """Every purpose's commands (all on one server) in one round trip on one pooled connection,
        the replies by purpose: the purposes share the connection, switching databases with SELECT
        (and back). Every command goes in one packet, then every reply is read, raw (SELECT
        answers b"OK", EXPIRE 1): what redis-py's Pipeline does too, less its bookkeeping per call
        (retry wrapper, reply callbacks) that none of these commands needs and that a hit would
        feel. An error reply is raised, as Pipeline's first error would be, once the connection is
        dropped: replies left unread on it must never reach its next user."""
        routes = {purpose: self.route(purpose) for purpose in commands}
        home = routes[next(iter(commands))]
        if None in [found.db for found in routes.values()] and len({id(r.client) for r in routes.values()}) > 1:
            # Stand-ins of tests that cannot switch databases: a round trip each.
            return {purpose: self.send({purpose: cmds})[purpose] for purpose, cmds in commands.items()}
        queued, spans, db = [], {}, home.db
        for purpose, cmds in commands.items():
            if routes[purpose].db != db:
                db = routes[purpose].db
                queued.append(("SELECT", db))
            spans[purpose] = (len(queued), len(queued) + len(cmds))
            queued.extend(cmds)
        if db != home.db:
            queued.append(("SELECT", home.db))  # Note: the pooled connection must go back as it came
        if home.db is None:  # a cluster's client (it finds the node), or a test's stand-in
            replies = _pipelined(home.client, queued)
            return {purpose: replies[start:end] for purpose, (start, end) in spans.items()}
        pool = home.client.connection_pool
        connection = pool.get_connection()
        try:
            connection.send_packed_command(connection.pack_commands(queued))
            replies = [connection.read_response() for _ in queued]
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        return {purpose: replies[start:end] for purpose, (start, end) in spans.items()}

    def _failed(self, purpose: str, server: str, operation: str, circuit: CircuitBreaker, exc: RedisError) -> None:
        if circuit.record_failure():
            self._watch(server, circuit)
        if circuit.state != CLOSED:
            self.require_recovery_on(server)
        _gauge(server).set(circuit.state != CLOSED)
        _errors(purpose, operation).inc()
        logger.warning("redis: %s %s on %s failed (circuit %s): %s", purpose, operation, server, circuit.state, exc)

    def _watch(self, server: str, circuit: CircuitBreaker) -> None:
        """While the circuit cools down, probe the server (utils.redis_layer.probe)."""
        if (client := self._probe_client(server)) is not None:
            probe.watch(circuit, client, server=server, interval=settings.REDIS_BREAKER_PROBE_SECONDS)

    def probe_now(self, purpose: str, user_id: int | None = None) -> bool:
        """If the circuit of the server of `user_id`'s calls is cooling down, ask that server now,
        in this thread, as the probe thread would (one PING, bounded by REDIS_TIMEOUT): an answer
        ends the cool-down, and the caller's next call is the breaker's probe. True if it answered."""
        server = self.server_of(purpose, user_id)
        circuit = self.breaker_of(server)
        opening = circuit.openings
        if not circuit.cooling(opening) or (client := self._probe_client(server)) is None:
            return False
        try:
            alive = probe.answers(client)
        finally:
            client.close()
        if alive:
            circuit.cut_short(opening)
        return alive

    def _probe_client(self, server: str) -> Redis | None:
        found = next((route for route in list(self._routes.values()) if route.server == server or route.cluster), None)
        return clients.probe_client(found.client, server) if found else None

    def _succeeded(self, server: str, circuit: CircuitBreaker) -> None:
        if circuit.record_success():
            _gauge(server).set(0)
            logger.info("redis: %s reachable again, circuit closed", server)

    # --- Recoveries -----------------------------------------------------------------------------

    def require_recovery(self, purpose: str, user_id: int | None = None) -> None:
        server = self.server_of(purpose, user_id) if user_id is not None else None
        self._required[purpose, server] = next(self._numbers)

    def require_recovery_on(self, server: str) -> None:
        """Every purpose with hooks on `server` must recover there before its next answer.
        # Note: while a server is away, other processes may lose writes meant for it (kept in the
        # database as debts): whatever used it pays them before trusting it again."""
        for purpose in list(RECOVERY_HOOKS):
            found = self.route(purpose)
            if found.server == server or found.cluster:
                self._required[purpose, server] = next(self._numbers)

    def _recovery_due(self, purpose: str, server: str) -> int:
        """The number of the latest recovery the purpose must run on this server, 0 if none."""
        if not self._required:
            return 0
        due = max(self._required.get((purpose, server), 0), self._required.get((purpose, None), 0))
        return due if due > self._recovered.get((purpose, server), 0) else 0

    def _recover(self, purpose: str, server: str, due: int) -> None:
        try:
            for hook in RECOVERY_HOOKS.get(purpose, ()):
                hook(server)
        except DatabaseError as exc:
            logger.warning("redis: %s recovery waits for the database: %s", purpose, exc)
            raise RedisUnavailable(f"{purpose} recovery") from exc
        # Note: a recovery required while the hooks ran (another thread's lost bump) has a later
        # number and stays due.
        with self._lock:
            self._recovered[purpose, server] = max(self._recovered.get((purpose, server), 0), due)


def user_tag(user_id: int) -> str:
    """Every key of one user, whatever its purpose, carries this Redis Cluster hash tag: a
    request's commands (revocation, throttle, namespace token and entry) and the Lua scripts
    then stay on one slot, one node, one round trip."""
    return f"{{u{int(user_id)}}}"


def _pipelined(client: Any, commands: list[tuple]) -> list:
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    return pipe.execute()


def _nothing() -> None:
    return None


# Note: resolving a labelled child costs a lock and a dict lookup per call; bind each once.
@functools.cache
def _errors(purpose: str, operation: str):
    return ERRORS.labels(purpose=purpose, operation=operation)


@functools.cache
def _gauge(server: str):
    return BREAKER_OPEN.labels(server=server)


# Note: building a layer reads no setting (its routes and breakers read them at first use), so
# the process's first one is built at import.
_current = RedisLayer()


def current() -> RedisLayer:
    """The layer the functions below ask."""
    return _current


@contextmanager
def use(layer: RedisLayer) -> Iterator[RedisLayer]:
    """Make `layer` the current one while inside, e.g.
    `with use(RedisLayer(stand_ins={CACHE: DownRedis()})):`, the one injection seam of the tests.
    On the way out the layer from before comes back fresh, as after a restart: its recoveries are
    due again, so what was lost while the stand-ins answered is paid before Redis is trusted."""
    global _current
    previous, _current = _current, layer
    try:
        yield layer
    finally:
        _current = previous.fresh()


# Note: here, beside the layer, not with the package's other functions: every cached GET calls it,
# and pays no wrapper on the way to the layer.
def gather(operation: str, commands: dict[str, list[tuple]], *, user_id: int | None = None) -> dict[str, list]:
    """Several purposes' commands, `{purpose: [("HMGET", key, field, ...), ...]}`, in one round
    trip per server: the purposes on one server share a connection, a pipeline switching
    databases with SELECT (and back), so a request's revocation check, throttle counters and
    cache lookup cost one round trip together (on a cluster: one pipeline, to the node of the
    user whose keys these are). The replies, by purpose; a purpose whose server could not be
    asked (as `call` would raise RedisUnavailable) has none: the others still answer.
    """
    layer, by_server = _current, {}
    for purpose in commands:
        found = layer.route(purpose)
        server = layer.server_of(purpose, user_id) if found.cluster and user_id is not None else found.server
        by_server.setdefault(server, []).append(purpose)
    replies: dict[str, list] = {}
    for server, (lead, *others) in by_server.items():
        try:
            for purpose in others:
                if layer._recovery_due(purpose, server):  # the lead's call runs only the lead's
                    layer.call_on(purpose, server, "recover", _nothing)
            asked = {purpose: commands[purpose] for purpose in [lead, *others]}
            replies.update(layer.call_on(lead, server, operation, layer.send, (asked,)))
        except RedisUnavailable:
            continue  # counted and logged by `call_on`
    return replies


def memoized_key(build: Callable[..., str]) -> Callable[..., str]:
    """`build`, a key's layout (a pure function of its arguments and the settings: prefixes,
    release), memoized per process and forgotten when a setting changes.
    # Note: a hit builds the keys of its user's revocation hash, throttle counters, namespace
    # token and entry; each is formatted once per process, not per request."""
    memo = functools.lru_cache(maxsize=4096)(build)
    _MEMOIZED_KEYS.append(memo)
    return memo


_MEMOIZED_KEYS: list = []


def _reload(*, setting: str, **kwargs) -> None:
    global _current
    for memo in _MEMOIZED_KEYS:
        memo.cache_clear()
    if setting == "CACHES" or setting.startswith("REDIS_"):
        _current = _current.fresh()


setting_changed.connect(_reload)
