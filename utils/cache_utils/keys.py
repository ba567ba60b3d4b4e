"""Cache keys: injective, glob-safe, Redis Cluster friendly.

A component is kept as is when it is plain ASCII (`[A-Za-z0-9_.~-]`), otherwise percent-encoded
(`quote(..., safe="")`), which maps every other character — `:` `*` `?` `[` `]` `{` `}`, spaces,
control characters, non-ASCII, `%` itself — to `%XX`. Percent-encoding is a bijection, so two
different parameter sets never give one key, and no user text can add a separator, a glob
character or a hash tag. `!` never appears in encoded text, so it marks the non-string values
and the strings that would otherwise read like an int or a date (`!s5` is the string "5").
"""

import functools
import hashlib
import re
from datetime import date
from urllib.parse import quote

from utils import redis_layer
from utils.cache_utils.conf import ENTRY_FORMAT, cache_settings
from utils.redis_layer import user_tag

MAX_KEY_LENGTH = 200
_MARKERS = {None: "!n", True: "!t", False: "!f"}
_LOOKS_TYPED = re.compile(r"-?[0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _component(value) -> str:
    if value is None or isinstance(value, bool):
        return _MARKERS[value]
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):  # datetimes too, whose isoformat holds ":"
        return quote(value.isoformat(), safe="")
    if isinstance(value, str):
        if not value:
            return "!e"
        return f"!s{value}" if _LOOKS_TYPED.fullmatch(value) else quote(value, safe="")
    raise TypeError(f"cache key components must be str, int, bool, date or None, not {type(value).__name__}")


def generate_cache_key(prefix: str, *args, **kwargs) -> str:
    """`prefix:arg1:arg2:k1=v1:k2=v2` with kwargs sorted; the part after the prefix is replaced by
    `#<blake2b>` when the key would pass 200 characters (`#` never appears unhashed)."""
    parts = [_component(arg) for arg in args] + [
        f"{quote(name, safe='')}={_component(kwargs[name])}" for name in sorted(kwargs)
    ]
    variable = ":".join(parts)
    key = f"{prefix}:{variable}" if parts else prefix
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{prefix}:#{hashlib.blake2b(variable.encode(), digest_size=20).hexdigest()}"


def full_key(key: str) -> str:
    """Prefix and release: `resee:api:<format>.<release>:<key>`; a new release reads no old entry."""
    return redis_layer.make_key(redis_layer.CACHE, key, version=f"{ENTRY_FORMAT}.{cache_settings.RELEASE}")


def namespace_key(user_id: int, namespace: str) -> str:
    return full_key(f"{user_tag(user_id)}:ns:{namespace}")


def entry_key(user_id: int, namespace: str, params: dict) -> str:
    return full_key(_entry_part(user_id, namespace, typed(params)))


def typed(params: dict) -> tuple:
    """`params` as a hashable memo key that keeps each value's type: True == 1, but their keys differ."""
    return tuple([(name, value.__class__, value) for name, value in params.items()])


# Note: a hit builds its entry's key; encoding every parameter on every hit showed in its profile. The part
# kept is a pure function of its arguments (the prefix and release are added on every call).
@functools.lru_cache(maxsize=4096)
def _entry_part(user_id: int, namespace: str, items: tuple) -> str:
    return generate_cache_key(f"{user_tag(user_id)}:{namespace}", **{name: value for name, _, value in items})


def lock_key(user_id: int, namespace: str, version: str, params: dict) -> str:
    """The recompute lock of one entry under one namespace token: after a bump, requests compete
    for a new lock instead of waiting on a computation whose result is already dead."""
    return full_key(generate_cache_key(f"{user_tag(user_id)}:lock:{namespace}", version, **params))
