"""The one seam between the application and Redis. Every Redis call of the project (the
revocation check, the throttle, the cache's lookups, stores, locks and bumps, the L1 channel, the
jobs' progress, the health probe) goes through `call`, which gives them one failure policy:

- a client per purpose, each on its own database (the CACHES aliases in PURPOSES, whose
  django-redis pools hold the connections), all with one timeout (REDIS_TIMEOUT);
- one circuit breaker per Redis server, shared by every purpose on it: after
  REDIS_BREAKER_FAILURES failures in a row nobody waits on that server for
  REDIS_BREAKER_COOLDOWN_SECONDS, then one call probes it;
- recovery hooks (`on_recovery`): a purpose that registered one owes it when the process starts,
  when its server's circuit opens and when it says something was lost (`owe`); its next call runs
  the hook before it uses any answer. The cache pays its invalidation debts there;
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
from redis import Redis
from redis.exceptions import RedisError

from utils.breaker import CLOSED, CircuitBreaker

logger = logging.getLogger("resee.redis")
T = TypeVar("T")

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
    """What one purpose talks to: its client, its server (and that server's breaker), its key
    prefix."""

    client: Redis
    server: str
    breaker: CircuitBreaker
    prefix: str


_routes: dict[str, Route] = {}
_breakers: dict[str, CircuitBreaker] = {}
_swapped: dict[str, tuple[Redis, str]] = {}  # purpose -> (stand-in client, its server's name)
_hooks: dict[str, list[Callable[[], object]]] = defaultdict(list)
# purpose -> the number of its latest debt: recovery forgets only the debts it has seen.
_owing: dict[str, int] = {}
_debts = itertools.count(1)
_lock = threading.Lock()
_stand_ins = itertools.count(1)


def route(purpose: str) -> Route:
    found = _routes.get(purpose)
    if found is None:
        with _lock:
            found = _routes[purpose] = _routes.get(purpose) or _build(purpose)
    return found


def _build(purpose: str) -> Route:
    config = settings.CACHES[PURPOSES[purpose]]
    client, server = _swapped.get(purpose) or (connect(purpose), urlsplit(config["LOCATION"]).netloc)
    breaker = _breakers.get(server)
    if breaker is None:
        breaker = _breakers[server] = CircuitBreaker(
            failure_threshold=settings.REDIS_BREAKER_FAILURES,
            cooldown_seconds=settings.REDIS_BREAKER_COOLDOWN_SECONDS,
        )
        _gauge(server).set(0)
    return Route(client=client, server=server, breaker=breaker, prefix=config["KEY_PREFIX"])


def connect(purpose: str) -> Redis:
    """The purpose's client as the settings configure it, whatever `use` swapped in."""
    return caches[PURPOSES[purpose]].client.get_client(write=True)


def client(purpose: str) -> Redis:
    """The raw client: for pipelines inside a `call`, and for operator commands, which want to
    see Redis errors."""
    return route(purpose).client


def breaker(purpose: str) -> CircuitBreaker:
    return route(purpose).breaker


def make_key(purpose: str, key: str, version: int | str = 1) -> str:
    """`<prefix>:<version>:<key>`, the layout of Django's cache keys, so keys stay what they were."""
    return f"{route(purpose).prefix}:{version}:{key}"


def healthy(purpose: str) -> bool:
    """Closed circuit and nothing owed: when an in-process copy of Redis data may be served."""
    return purpose not in _owing and route(purpose).breaker.state == CLOSED


def call(purpose: str, operation: str, fn: Callable[..., T], *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` behind the purpose's breaker, after its recovery hooks if it owes
    them: RedisUnavailable if the breaker is open or a call fails (counted and logged). Any other
    exception (say, CacheMiss) means Redis answered, and passes through."""
    found = route(purpose)
    circuit = found.breaker
    if not circuit.allow():
        raise RedisUnavailable(f"{purpose} {operation}: circuit to {found.server} open")
    try:
        if purpose in _owing:
            _recover(purpose)
        result = fn(*args, **kwargs)
    except RedisError as exc:
        circuit.record_failure()
        if circuit.state != CLOSED:
            _owe_server(found.server)
        _gauge(found.server).set(circuit.state != CLOSED)
        _errors(purpose, operation).inc()
        logger.warning("redis: %s %s failed (circuit %s): %s", purpose, operation, circuit.state, exc)
        raise RedisUnavailable(f"{purpose} {operation}") from exc
    except BaseException:
        _succeeded(found)
        raise
    _succeeded(found)
    return result


def gather(operation: str, commands: dict[str, list[tuple]]) -> dict[str, list]:
    """Several purposes' commands, `{purpose: [("HMGET", key, field, ...), ...]}`, in one round
    trip per server: the purposes on one server share a connection, a pipeline switching
    databases with SELECT (and back), so a request's revocation check, throttle counters and
    cache lookup cost one round trip together. The replies, by purpose; a purpose whose server
    could not be asked (as `call` would raise RedisUnavailable) has none: the others still answer.
    """
    by_server: dict[str, list[str]] = defaultdict(list)
    for purpose in commands:
        by_server[route(purpose).server].append(purpose)
    replies: dict[str, list] = {}
    for lead, *others in by_server.values():
        try:
            for purpose in others:
                if purpose in _owing:
                    call(purpose, "recover", _nothing)  # the lead's call runs only the lead's hooks
            replies.update(call(lead, operation, _send, {purpose: commands[purpose] for purpose in [lead, *others]}))
        except RedisUnavailable:
            continue  # counted and logged by `call`
    return replies


def _nothing() -> None:
    return None


def _send(commands: dict[str, list[tuple]]) -> dict[str, list]:
    clients = [route(purpose).client for purpose in commands]
    if not all(isinstance(client, Redis) for client in clients):
        # Stand-ins of tests cannot switch databases: a pipeline each.
        return {purpose: _pipeline(route(purpose).client, {purpose: cmds}) for purpose, cmds in commands.items()}
    return _split(_pipeline(clients[0], commands, switch=True), commands)


def _pipeline(client: Redis, commands: dict[str, list[tuple]], *, switch: bool = False) -> list:
    pipe = client.pipeline(transaction=False)
    home = current = _db(client)
    for purpose, cmds in commands.items():
        if switch and (db := _db(route(purpose).client)) != current:
            pipe.execute_command("SELECT", db)
            current = db
        for command in cmds:
            pipe.execute_command(*command)
    if current != home:
        pipe.execute_command("SELECT", home)  # Note: the pooled connection must go back as it came
    return pipe.execute()


def _split(replies: list, commands: dict[str, list[tuple]]) -> dict[str, list]:
    """Each purpose's replies, without the SELECTs' (a SELECT precedes a purpose whose database
    differs from the one before)."""
    out, at, current = {}, 0, _db(route(next(iter(commands))).client)
    for purpose, cmds in commands.items():
        if (db := _db(route(purpose).client)) != current:
            at, current = at + 1, db
        out[purpose], at = replies[at : at + len(cmds)], at + len(cmds)
    return out


def _db(client: Redis) -> int:
    return int(client.connection_pool.connection_kwargs.get("db") or 0)


def on_recovery(purpose: str, hook: Callable[[], object]) -> None:
    """Run `hook` before the purpose's next answer whenever it owes recovery (see the module
    docstring). A Redis error in the hook fails the call like any other; a database error fails
    only this call (RedisUnavailable), is not counted against Redis, and the hook stays owed."""
    if hook not in _hooks[purpose]:
        _hooks[purpose].append(hook)
    owe(purpose)


def owe(purpose: str) -> None:
    """Something meant for this purpose's Redis was lost (an invalidation): none of its answers
    may be used until its recovery hooks have run."""
    _owing[purpose] = next(_debts)


def _owe_server(server: str) -> None:
    # Note: while a server is away, other processes may lose writes meant for it (kept in the
    # database as debts): whatever used it pays them before trusting it again.
    for purpose in [purpose for purpose in list(_hooks) if route(purpose).server == server]:
        owe(purpose)


def _recover(purpose: str) -> None:
    seen = _owing.get(purpose)
    try:
        for hook in _hooks[purpose]:
            hook()
    except DatabaseError as exc:
        logger.warning("redis: %s recovery waits for the database: %s", purpose, exc)
        raise RedisUnavailable(f"{purpose} recovery") from exc
    # Note: a debt owed while the hooks ran (another thread's lost bump) stays owed.
    with _lock:
        if _owing.get(purpose) == seen:
            del _owing[purpose]


def _succeeded(found: Route) -> None:
    if found.breaker.record_success():
        _gauge(found.server).set(0)
        logger.info("redis: %s reachable again, circuit closed", found.server)


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
        for purpose in _hooks:
            _owing[purpose] = next(_debts)


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
