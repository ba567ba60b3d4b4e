"""What a cached endpoint serves one user, described once, in its app's selectors: the view's
`cached_read` hands it to the read path (its lookup travels in the request's one round trip), and
`manage.py cache_warm` to `warm`. Apps register in `AppConfig.ready()` what the warm-up precomputes
(`register_warm`) and whom for (`register_active_users`): nothing in utils/ imports an app."""

from collections.abc import Callable
from typing import Any, NamedTuple


# Note: NamedTuples, not frozen dataclasses: the view builds one per request, hits included.
class CachedRead(NamedTuple):
    """One user's answer of one cached endpoint: `params` must hold everything besides the user
    that changes it, `compute` builds it from the database. `derived_from`: a shared entry the
    answer can usually be taken out of (one entry serving many variants); this read's own entry
    is used only when it cannot. `until`, asked after `compute`: the moment (epoch seconds of
    `clock.now()`) the answer computed changes with the clock alone (utils.cache_utils.policy,
    CLOCK_EVENTS); None when only writes change it."""

    user_id: int
    namespace: str
    params: dict
    compute: Callable[[], Any]
    derived_from: "Derivation | None" = None
    until: Callable[[], float] | None = None


class Derivation(NamedTuple):
    """`project(payload of base)`: this answer, or None when the base does not hold it all."""

    base: CachedRead
    project: Callable[[Any], Any | None]


def looked_up(read: CachedRead) -> CachedRead:
    """The read whose entry a request looks up first: the shared one, when there is one."""
    return read.derived_from.base if read.derived_from is not None else read


_warm_reads: dict[str, Callable[[int], CachedRead]] = {}
_refresh_reads: dict[str, Callable[[int], CachedRead]] = {}
_active_users: list[Callable[..., list[int]]] = []


def register_warm(namespace: str, read_for: Callable[[int], CachedRead]) -> None:
    """`read_for(user_id)`: a read of a user's first screen, which `manage.py cache_warm`
    precomputes and a write of the user's refreshes (utils.cache_utils.refresh)."""
    _warm_reads[namespace] = read_for


def register_refresh(namespace: str, read_for: Callable[[int], CachedRead]) -> None:
    """`read_for(user_id)`: a read a write of the user's refreshes, not part of the warm-up."""
    _refresh_reads[namespace] = read_for


def warm_reads_for(user_id: int) -> list[CachedRead]:
    return [read_for(user_id) for read_for in _warm_reads.values()]


def refresh_reads_for(user_id: int) -> list[CachedRead]:
    return [read_for(user_id) for read_for in (*_warm_reads.values(), *_refresh_reads.values())]


def warm_namespaces() -> list[str]:
    return list(_warm_reads)


def register_active_users(find: Callable[..., list[int]]) -> None:
    """`find(days=..., limit=...)`: ids of the users active in the last days, most recent first."""
    _active_users[:] = [find]


def active_users(*, days: int, limit: int) -> list[int]:
    return _active_users[0](days=days, limit=limit) if _active_users else []
