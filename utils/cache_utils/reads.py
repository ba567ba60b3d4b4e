"""What a cached endpoint serves one user, described once: the view hands it to `cached_json`,
the warm command to `warm`, the request's prefetch to its one round trip."""

from collections.abc import Callable
from typing import Any, NamedTuple


# Note: a NamedTuple, not a frozen dataclass: the view builds one per request, hits included.
class CachedRead(NamedTuple):
    """One user's answer of one cached endpoint: `params` must hold everything besides the user
    that changes it, `compute` builds it from the database."""

    user_id: int
    namespace: str
    params: dict
    compute: Callable[[], Any]
