"""The RESEE_CACHE settings block: defaults, validated and read at call time so tests can
override them with `override_settings`."""

from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# Namespaces: one per cached endpoint; a write bumps the ones whose answers it changes.
TODAY, STATS, CONTENT = "today", "stats", "content"
NAMESPACES = (TODAY, STATS, CONTENT)

# Note: bump when the stored entry layout changes, so a new release never parses old entries.
ENTRY_FORMAT = 1

DEFAULTS: dict[str, Any] = {
    "ENABLED": True,
    "ALIAS": "api",
    "TTL": {TODAY: 3600, STATS: 300, CONTENT: 600},
    # A namespace token only has to outlive the entries tagged with it; when it goes (TTL, LRU,
    # restart) a fresh random one replaces it and every older entry becomes a miss.
    "NAMESPACE_TTL": 24 * 3600,
    "RELEASE": "1",
    "SCAN_BATCH": 1000,
}


def cache_setting(name: str) -> Any:
    value = {**DEFAULTS, **getattr(settings, "RESEE_CACHE", {})}[name]
    if name == "TTL":
        value = {**DEFAULTS["TTL"], **value}
        bad = {k: v for k, v in value.items() if not isinstance(v, int) or v <= 0}
        if bad:
            raise ImproperlyConfigured(f"RESEE_CACHE['TTL'] values must be positive integers: {bad}")
    elif name in ("NAMESPACE_TTL", "SCAN_BATCH") and (not isinstance(value, int) or value <= 0):
        raise ImproperlyConfigured(f"RESEE_CACHE[{name!r}]={value!r} must be a positive integer.")
    return value


def ttl_for(namespace: str) -> int:
    return cache_setting("TTL")[namespace]
