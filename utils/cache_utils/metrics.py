"""Prometheus metrics of the cache layer, labelled by endpoint, never by user or key.

Under gunicorn, set PROMETHEUS_MULTIPROC_DIR (deploy/gunicorn.conf.py prepares it): every worker
writes its samples there and /metrics adds them up, so counters are the whole server's.
"""

from prometheus_client import Counter, Histogram

# Note: a hit takes about a millisecond end to end; the buckets resolve that and a slow miss.
_FAST_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

REQUESTS = Counter(
    "resee_cache_requests", "Requests to cached endpoints by result (hit, miss, stale, bypass)", ["endpoint", "result"]
)
REQUEST_SECONDS = Histogram(
    "resee_cache_request_seconds",
    "Time a cached endpoint spent in the cache layer (lookup, compute, store), by result",
    ["endpoint", "result"],
    buckets=_FAST_BUCKETS,
)
LOOKUP_SECONDS = Histogram(
    "resee_cache_lookup_seconds", "Time of one entry lookup in Redis", ["endpoint"], buckets=_FAST_BUCKETS
)
COMPUTE_SECONDS = Histogram(
    "resee_cache_compute_seconds",
    "Time to compute a cached payload from the database",
    ["endpoint"],
    buckets=_FAST_BUCKETS,
)
INVALIDATIONS = Counter("resee_cache_invalidations", "Namespace bumps by reason", ["reason"])
OVERSIZE = Counter(
    "resee_cache_oversize", "Answers served but not stored, their entry over MAX_ENTRY_BYTES", ["endpoint"]
)
LOCK_WAITS = Counter("resee_cache_lock_waits", "Requests that waited for another request's recomputation", ["endpoint"])
REFRESHES = Counter(
    "resee_cache_refreshes",
    "Entries recomputed after a write's response (warmed, fresh: already there, busy: a request computes it, failed)",
    ["endpoint", "result"],
)
