"""The RESEE_CACHE settings block: defaults, validated once (a system check at start-up),
cached, and reloaded when the settings change so tests can use `override_settings`."""

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

# Namespaces: one per cached endpoint; a write bumps the ones whose answers it changes.
TODAY, STATS, CONTENT = "today", "stats", "content"
NAMESPACES = (TODAY, STATS, CONTENT)

# Note: bump when the stored entry layout changes, so a new release never parses old entries.
ENTRY_FORMAT = 1

DEFAULTS: dict[str, Any] = {
    "ENABLED": True,
    "TTL": {TODAY: 3600, STATS: 300, CONTENT: 600},
    # A namespace token only has to outlive the entries tagged with it; when it goes (TTL, LRU,
    # restart) a fresh random one replaces it and every older entry becomes a miss.
    "NAMESPACE_TTL": 24 * 3600,
    "RELEASE": "1",
    "SCAN_BATCH": 1000,
    # XFetch: higher beta recomputes earlier; 1 is the paper's optimum.
    "XFETCH_BETA": 1.0,
    # How long after expiry an entry may still be served (X-Cache: STALE) while one request
    # recomputes it. Never after an invalidation: a bumped token kills stale entries too.
    "STALE_SECONDS": 30,
    # Single-flight: the recompute lock lives at most LOCK_TTL_MS (a crashed holder frees it);
    # a request without the lock and without a stale entry waits up to LOCK_WAIT_MS, polling.
    "LOCK_TTL_MS": 5000,
    # Note: long enough for a slow computation on a loaded machine; a waiter costs a thread, not
    # the database, and gives up to compute itself only when the holder seems lost.
    "LOCK_WAIT_MS": 3000,
    "LOCK_POLL_MS": 15,
    # Bodies this large or larger are stored zlib-compressed.
    "COMPRESS_MIN_BYTES": 16384,
    # An entry larger than this, compressed, is not stored: its answer is served as computed. Large
    # values stall Redis' one thread and crowd out many users' entries under maxmemory.
    "MAX_ENTRY_BYTES": 2**20,
    # After a write's response, recompute the writer's hottest answers (utils/cache_utils/refresh.py).
    "REFRESH_ON_WRITE": True,
    # L1: an in-process LRU in front of Redis. Off by default: it saves one loopback round trip
    # per hit, but another process may serve an entry up to L1_TTL_SECONDS older than a write
    # that has already returned (pub/sub usually closes that window in milliseconds).
    "L1_ENABLED": False,
    "L1_MAX_ENTRIES": 10_000,
    "L1_MAX_BYTES": 64 * 1024 * 1024,
    "L1_TTL_SECONDS": 2.0,
}

_POSITIVE_INTS = (
    "NAMESPACE_TTL",
    "SCAN_BATCH",
    "LOCK_TTL_MS",
    "LOCK_WAIT_MS",
    "LOCK_POLL_MS",
    "L1_MAX_ENTRIES",
    "L1_MAX_BYTES",
    "MAX_ENTRY_BYTES",
)
_NON_NEGATIVE_NUMBERS = (
    "XFETCH_BETA",
    "STALE_SECONDS",
    "COMPRESS_MIN_BYTES",
    "L1_TTL_SECONDS",
)


class CacheSettings:
    """RESEE_CACHE with its defaults: `cache_settings.TTL`. Merged and validated once, like DRF's
    api_settings, and again after a settings change (override_settings in tests). A value read
    once is kept as an attribute: a hit reads several, as plain attribute lookups."""

    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"RESEE_CACHE has no setting {name!r}")
        if "_merged" not in self.__dict__:
            self._merged = _load()
        value = self._merged[name]
        setattr(self, name, value)
        return value

    def reload(self) -> None:
        self.__dict__.clear()


cache_settings = CacheSettings()


def _load() -> dict[str, Any]:
    merged = {**DEFAULTS, **getattr(settings, "RESEE_CACHE", {})}
    merged["TTL"] = {**DEFAULTS["TTL"], **merged["TTL"]}
    bad = {k: v for k, v in merged["TTL"].items() if not isinstance(v, int) or v <= 0}
    if bad:
        raise ImproperlyConfigured(f"RESEE_CACHE['TTL'] values must be positive integers: {bad}")
    for name in _POSITIVE_INTS:
        if not isinstance(merged[name], int) or merged[name] <= 0:
            raise ImproperlyConfigured(f"RESEE_CACHE[{name!r}]={merged[name]!r} must be a positive integer.")
    for name in _NON_NEGATIVE_NUMBERS:
        if not isinstance(merged[name], int | float) or merged[name] < 0:
            raise ImproperlyConfigured(f"RESEE_CACHE[{name!r}]={merged[name]!r} must be a number >= 0.")
    return merged


def _reload(*, setting: str, **kwargs) -> None:
    if setting == "RESEE_CACHE":
        cache_settings.reload()


setting_changed.connect(_reload)


@register()
def check_cache_settings(app_configs, **kwargs) -> list[Error]:
    """A bad RESEE_CACHE stops `manage.py check` and every start-up, not the first cached GET."""
    try:
        _load()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="resee.E001")]
    return []


def ttl_for(namespace: str) -> int:
    return cache_settings.TTL[namespace]
