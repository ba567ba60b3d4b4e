"""The one seam between the application and Redis. Every Redis call of the project (the
revocation check, the throttle, the cache's lookups, stores, locks and bumps, the L1 channel, the
jobs' progress, the health probe) goes through `call` (or `call_for`, a call about one user, or
`gather`, several purposes' commands in one round trip), which gives them one failure policy:

- a client per purpose, all with one timeout (REDIS_TIMEOUT). REDIS_MODE says where they go
  (`clients`): `standalone`, each purpose on its own database of one server; `sentinel`, the same
  databases on the master the sentinels name, followed through failovers (`failover`);
  `cluster`, one client shared by every purpose, kept apart by key prefix, every key of a user
  on the user's hash tag (`user_tag`);
- one circuit breaker per Redis server, shared by every purpose on it: after
  REDIS_BREAKER_FAILURES failures in a row nobody waits on that server for
  REDIS_BREAKER_COOLDOWN_SECONDS, then one call probes it. Meanwhile a thread PINGs the server
  every REDIS_BREAKER_PROBE_SECONDS (`probe`): an answer, or the sentinels naming another
  master, ends the cool-down at once; a write asks the same in its own thread (`probe_now`)
  rather than owe its invalidation. On a cluster a server is a node: a
  call about a user goes through the breaker of the node that serves the user's slot, so a dead
  node's users bypass while everyone else's calls go on;
- recovery hooks (`on_recovery`): a purpose that registered one must run it on a server before
  it uses any answer from there, when the process starts, when that server's circuit opens and
  when the purpose says something meant for that server was lost (`require_recovery`). The cache
  pays its invalidation debts there;
- one place that counts failed calls (resee_redis_errors_total{purpose,operation}) and logs them.

Callers get RedisUnavailable and degrade as they document: the revocation check asks the
database (fail safe), the throttle allows (fail open), the cache serves from the database
(BYPASS).

The state of all this (routes, breakers, recoveries due, the sentinels' masters seen) lives on
one `RedisLayer`, built from the settings (a route or a breaker at its first use) and built
afresh when they change. The functions below ask the current one. Tests build one with stand-in
clients and make it current with `use(...)`, nothing else.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from redis import Redis
from redis.cluster import RedisCluster

from utils.breaker import CircuitBreaker
from utils.redis_layer import clients
from utils.redis_layer.clients import (
    CACHE,
    CLUSTER,
    JOBS,
    MODES,
    OPERATOR_TIMEOUT,
    PURPOSES,
    REVOCATION,
    SENTINEL,
    STANDALONE,
    THROTTLE,
)
from utils.redis_layer.layer import (
    RECOVERY_HOOKS,
    RedisLayer,
    RedisUnavailable,
    Route,
    current,
    gather,
    memoized_key,
    use,
    user_tag,
)

__all__ = [
    "CACHE", "CLUSTER", "JOBS", "MODES", "OPERATOR_TIMEOUT", "PURPOSES", "REVOCATION", "SENTINEL", "STANDALONE",
    "THROTTLE", "RedisLayer", "RedisUnavailable", "Route", "breaker", "call", "call_for", "client", "connect",
    "current", "execute_durably", "gather", "healthy", "make_key", "memoized_key", "on_recovery", "operator_client",
    "probe_now", "require_recovery", "route", "server_of", "use", "user_tag",
]  # fmt: skip

T = TypeVar("T")


def route(purpose: str) -> Route:
    return current().route(purpose)


def client(purpose: str) -> Redis | RedisCluster:
    """The raw client: for pipelines inside a `call`, and for operator commands, which want to
    see Redis errors."""
    return current().route(purpose).client


def connect(purpose: str) -> Redis:
    """The purpose's own database as the settings configure it, whatever the stand-ins."""
    return current().connect(purpose)


@contextmanager
def operator_client(purpose: str) -> Iterator[Redis | RedisCluster]:
    """The purpose's client for operator commands (a SCAN of every key): the same server and
    database, on connections of its own with OPERATOR_TIMEOUT, closed afterwards. No breaker:
    an operator wants to see the error."""
    with clients.operator_client(client(purpose)) as own:
        yield own


def breaker(purpose: str, user_id: int | None = None) -> CircuitBreaker:
    layer = current()
    return layer.breaker_of(layer.server_of(purpose, user_id))


def server_of(purpose: str, user_id: int | None = None) -> str:
    """The server a call about `user_id` goes to: on a cluster, the node serving the user's slot
    (as far as this process knows the slot map); otherwise, or about no user, the purpose's."""
    return current().server_of(purpose, user_id)


def make_key(purpose: str, key: str, version: int | str = 1) -> str:
    """`<prefix>:<version>:<key>`, the layout of Django's cache keys, so keys stay what they were."""
    return current().make_key(purpose, key, version)


def healthy(purpose: str, user_id: int | None = None) -> bool:
    """Closed circuit and no recovery due on the server of `user_id`'s calls: when an in-process
    copy of Redis data may be served."""
    return current().healthy(purpose, user_id)


def call(purpose: str, operation: str, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`fn(*args, **kwargs)` behind the purpose's breaker, after its recovery hooks if they are
    due: RedisUnavailable if the breaker is open or a call fails (counted and logged). Any other
    exception (say, CacheMiss) means Redis answered, and passes through."""
    layer = current()
    return layer.call_on(purpose, layer.route(purpose).server, operation, fn, args, kwargs)


def call_for(user_id: int, purpose: str, operation: str, fn: Callable[..., T], /, *args, **kwargs) -> T:
    """`call` for a call about one user (every key it touches carries `user_tag(user_id)`): on a
    cluster it goes through the breaker, and runs the recovery, of the node serving that user."""
    layer = current()
    return layer.call_on(purpose, layer.server_of(purpose, user_id), operation, fn, args, kwargs)


def on_recovery(purpose: str, hook: Callable[[str], object]) -> None:
    """Run `hook(server)` before the purpose's next answer from a server whenever its recovery is
    due there (see the module docstring), in every layer of the process. A Redis error in the
    hook fails the call like any other; a database error fails only this call
    (RedisUnavailable), is not counted against Redis, and the recovery stays due."""
    if hook not in RECOVERY_HOOKS[purpose]:
        RECOVERY_HOOKS[purpose].append(hook)
    current().require_recovery(purpose)


def execute_durably(purpose: str, pipe) -> list:
    """`pipe.execute()` for a write that must survive a failover (a bump, a revocation): with
    Sentinel, once a replica has it too, or on the new master when the old one was deposed
    under it (`failover`). Inside a `call`: a write that cannot be made durable raises as any
    failed call does."""
    return current().execute_durably(purpose, pipe)


def probe_now(purpose: str, user_id: int | None = None) -> bool:
    """Before a call that must not be skipped while the circuit is open (a write's invalidation):
    if the circuit of `user_id`'s server is cooling down, one PING now (REDIS_TIMEOUT) in the
    caller's thread; an answer ends the cool-down, so that call is the breaker's probe."""
    return current().probe_now(purpose, user_id)


def require_recovery(purpose: str, user_id: int | None = None) -> None:
    """Something meant for this purpose's Redis was lost (an invalidation), on the server of
    `user_id` (on every server when None): none of its answers from there may be used until its
    recovery hooks have run."""
    current().require_recovery(purpose, user_id)
