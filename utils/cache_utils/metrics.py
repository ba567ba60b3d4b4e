"""Prometheus metrics of the cache layer, labelled by endpoint, never by user or key."""

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter("resee_cache_requests", "Cached-endpoint requests by result", ["endpoint", "result"])
COMPUTE_SECONDS = Histogram("resee_cache_compute_seconds", "Time to compute a cached payload", ["endpoint"])
INVALIDATIONS = Counter("resee_cache_invalidations", "Namespace bumps by reason", ["reason"])
ERRORS = Counter("resee_cache_errors", "Redis errors in the cache layer", ["operation"])
BREAKER_OPEN = Gauge("resee_cache_breaker_open", "1 while this process's circuit to the api Redis is not closed")
LOCK_WAITS = Counter("resee_cache_lock_waits", "Requests that waited for another request's recomputation", ["endpoint"])
