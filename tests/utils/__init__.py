"""Helpers shared by the cache-layer tests: put an entry in Redis, ask whether it is served, read a
namespace token, and record the calls the code under test makes on the raw Redis client."""

from utils import redis_layer
from utils.cache_utils import keys, store
from utils.cache_utils.conf import TODAY


def put_entry(user_id: int, namespace: str = TODAY, params: dict | None = None, body: bytes = b"{}") -> str:
    """Store an entry the way `cached_json` does after a miss; return the token it is tagged with."""
    version = store.claim_version(user_id=user_id, namespace=namespace)
    store.store(
        user_id=user_id, namespace=namespace, params=params or {}, version=version, body=body, compute_seconds=0.01
    )
    return version


def is_served(user_id: int, namespace: str = TODAY, params: dict | None = None) -> bool:
    try:
        store.lookup(user_id=user_id, namespace=namespace, params=params or {})
    except store.CacheMiss:
        return False
    return True


def token_of(user_id: int, namespace: str = TODAY) -> str | None:
    """The namespace token as stored in Redis, without creating one."""
    raw = store.client().get(keys.namespace_key(user_id, namespace))
    return raw.decode() if raw is not None else None


class RecordingClient:
    """Stands in for the cache's Redis client: forwards everything to the real client and records each
    command as one round trip. A pipeline counts once, when it is executed."""

    def __init__(self, real):
        self._real = real
        self.calls: list[tuple[str, tuple]] = []

    def pipeline(self, *args, **kwargs):
        return _RecordingPipeline(self._real.pipeline(*args, **kwargs), self.calls)

    def __getattr__(self, name):
        attribute = getattr(self._real, name)
        if not callable(attribute):
            return attribute

        def record(*args, **kwargs):
            self.calls.append((name, args))
            return attribute(*args, **kwargs)

        return record

    @property
    def commands(self) -> list[str]:
        return [name for name, _ in self.calls]


class _RecordingPipeline:
    def __init__(self, real, calls):
        self._real, self._calls = real, calls

    def execute(self, *args, **kwargs):
        self._calls.append(("pipeline.execute", ()))
        return self._real.execute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


def record_client(swap_redis) -> RecordingClient:
    """The cache's client swapped for a recorder of the real one (`swap_redis`: the fixture)."""
    recorder = RecordingClient(redis_layer.connect(redis_layer.CACHE))
    swap_redis(cache=recorder)
    return recorder
