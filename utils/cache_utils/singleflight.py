"""One recomputation per key at a time: a Redis lock `SET NX PX` holding a random token,
released by compare-and-delete (lua/release_lock.lua) so an expired holder cannot free a lock that
another request has taken since."""

import secrets
from pathlib import Path

from utils.cache_utils import store

_RELEASE = (Path(__file__).parent / "lua" / "release_lock.lua").read_text()


def acquire(lock_key: str, *, ttl_ms: int) -> str | None:
    """The token if we now hold the lock, None if another request does."""
    token = secrets.token_hex(8)
    return token if store.client().set(lock_key, token, nx=True, px=ttl_ms) else None


def release(lock_key: str, token: str) -> bool:
    return bool(store.client().eval(_RELEASE, 1, lock_key, token))
