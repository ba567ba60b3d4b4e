"""What the cache costs besides a request: one user's invalidation against the number of entries
cached, and the Redis memory of an entry against its JSON body.

Invalidation: entries are written under a release of their own ("bench-fill": they never mix with
the hit path's entries, and `invalidate_pattern("*")` under that release deletes them all at the
end), with the real key layout (`keys.entry_key`) and ~300-byte values, a tenth for the user
being invalidated and the rest for 1,000 other users, in pipelines of 1,000 SETs. They are
ballast: what matters is how many keys Redis holds. Sizes are filled in increasing order, the same
key set growing. The timed call is `invalidate_on_commit(...)` outside a transaction, i.e. what a
write's on-commit hook runs, `reps` times per size. Before and after, a probe entry of the user
is read through the read path's `answer` itself: HIT before the bump, MISS after it, whatever the size.
"""

import statistics
import time
from types import SimpleNamespace

import redis
from django.conf import settings
from django.test.utils import override_settings

from bench.loadgen import percentile
from utils.cache_utils import NAMESPACES, invalidate_on_commit, invalidate_pattern, keys, store
from utils.cache_utils.read_path import answer
from utils.cache_utils.reads import CachedRead

FILL_RELEASE = "bench-fill"
TARGET_USER = 9_000_000  # no real user has this id; keys are per user id only
OTHER_USERS = 1000
FILL_VALUE = b"ballast;" * 40  # ~320 bytes: a small entry; its content is never read


def _fill_release():
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "RELEASE": FILL_RELEASE})


def _ballast_key(index: int) -> str:
    user = TARGET_USER if index % 10 == 0 else TARGET_USER + 1 + index % OTHER_USERS
    return keys.entry_key(user, NAMESPACES[index % 3], {"page": index, "page_size": 20})


def _probe() -> str:
    """X-Cache of the target user's probe entry, read through the real read-through path."""
    request = SimpleNamespace(user=SimpleNamespace(id=TARGET_USER), META={})
    response = answer(request, CachedRead(TARGET_USER, "today", {"probe": 1}, lambda: {"probe": True}))
    return response["X-Cache"]


def invalidation(*, sizes: list[int], reps: int) -> dict:
    results, detail = {}, {}
    with _fill_release():
        client = store.client()
        filled = 0
        try:
            for size in sorted(sizes):
                started = time.perf_counter()
                while filled < size:
                    pipe = client.pipeline(transaction=False)
                    for index in range(filled, min(size, filled + 1000)):
                        pipe.set(_ballast_key(index), FILL_VALUE, ex=600)
                    pipe.execute()
                    filled = min(size, filled + 1000)
                fill_seconds = time.perf_counter() - started
                _probe()
                if _probe() != "HIT":
                    raise AssertionError("the probe entry was not cached before the invalidation")
                samples = []
                for _ in range(reps):
                    started_ns = time.perf_counter_ns()
                    invalidate_on_commit(user_id=TARGET_USER, namespaces=NAMESPACES, reason="bench")
                    samples.append((time.perf_counter_ns() - started_ns) / 1000)
                if _probe() != "MISS":
                    raise AssertionError(f"an entry survived the invalidation with {size} entries cached")
                results[str(size)] = round(statistics.median(samples), 1)
                detail[str(size)] = {
                    "median_us": round(statistics.median(samples), 1),
                    "p10_us": round(percentile(samples, 10), 1),
                    "p90_us": round(percentile(samples, 90), 1),
                    "p99_us": round(percentile(samples, 99), 1),
                    "reps": reps,
                    "entries_of_user": (size + 9) // 10,
                    "fill_seconds": round(fill_seconds, 2),
                    "keys_in_cache_db": client.dbsize(),
                }
        finally:
            invalidate_pattern("*")  # every key of the fill release, by SCAN + UNLINK
    return {"invalidation_us": results, "invalidation": detail}


def memory(*, user_ids: list[int], bodies: dict, real_redis_url: str | None) -> dict:
    """MEMORY USAGE of the hit path's real entries (per namespace), against the JSON body the
    hit served (`bodies`: (namespace, user id) -> body bytes).

    With the embedded fakeredis (no MEMORY USAGE), the same keys and values are copied into the
    real redis-server given by `real_redis_url` (the bench's private one) and measured there."""
    client = store.client()
    measured_on = "real" if not settings.REDIS_EMBEDDED else "embedded"
    per_namespace = {}
    samples = []
    for namespace in NAMESPACES:
        for user in user_ids:
            pattern = keys.full_key(f"{keys.user_tag(user)}:{namespace}:*").replace("{", "\\{").replace("}", "\\}")
            for key in client.scan_iter(match=pattern, count=1000):
                raw = client.get(key)
                body = bodies.get((namespace, user))
                if raw is not None and body is not None:
                    samples.append((namespace, key, raw, len(body)))
    if not samples:
        return {"bytes_per_entry": None, "body_bytes_per_entry": None, "memory": {"error": "no entries found"}}
    target = client
    if settings.REDIS_EMBEDDED:
        if not real_redis_url:
            return _estimate(samples)
        target = redis.Redis.from_url(real_redis_url)
        measured_on = "private redis-server (copies of the embedded entries)"
        for _, key, raw, _ in samples:
            target.set(key, raw, ex=600)
    usage = {}
    for namespace, key, raw, body_bytes in samples:
        used = target.memory_usage(key, samples=0)
        usage.setdefault(namespace, []).append((used, body_bytes, len(raw), len(key)))
    if target is not client:
        target.delete(*[key for _, key, _, _ in samples])
    for namespace, rows in usage.items():
        per_namespace[namespace] = {
            "entries": len(rows),
            "bytes_per_entry": round(statistics.mean(r[0] for r in rows)),
            "body_bytes_per_entry": round(statistics.mean(r[1] for r in rows)),
            "stored_value_bytes": round(statistics.mean(r[2] for r in rows)),
            "key_bytes": round(statistics.mean(r[3] for r in rows)),
        }
        per_namespace[namespace]["overhead_bytes"] = (
            per_namespace[namespace]["bytes_per_entry"] - per_namespace[namespace]["body_bytes_per_entry"]
        )
    headline = per_namespace.get("today") or next(iter(per_namespace.values()))
    return {
        "bytes_per_entry": headline["bytes_per_entry"],
        "body_bytes_per_entry": headline["body_bytes_per_entry"],
        "memory": {"measured_on": measured_on, "headline_namespace": "today", "by_namespace": per_namespace},
    }


def _estimate(samples) -> dict:
    """No MEMORY USAGE anywhere: key + value + a fixed ~70 bytes of Redis object overhead."""
    rows = [(len(key) + len(raw) + 70, body) for namespace, key, raw, body in samples if namespace == "today"]
    rows = rows or [(len(key) + len(raw) + 70, body) for _, key, raw, body in samples]
    return {
        "bytes_per_entry": round(statistics.mean(r[0] for r in rows)),
        "body_bytes_per_entry": round(statistics.mean(r[1] for r in rows)),
        "memory": {"measured_on": "estimate (key + value + 70 bytes; no MEMORY USAGE available)"},
    }
