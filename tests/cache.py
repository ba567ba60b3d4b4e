"""What the tests of the cached endpoints share: their URLs, the X-Cache values, and the ground
truth switch (the same request with the cache off)."""

from django.conf import settings
from django.test import override_settings

URLS = {
    "today": "/api/review/today/",
    "stats": "/api/analytics/stats/",
    "content": "/api/content/",
}
ENDPOINTS = tuple(URLS)
HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"


def cache_off():
    """Every read computed from the database (X-Cache: BYPASS): what the cache must agree with."""
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "ENABLED": False})
