"""What the cache costs besides a request: one user's invalidation against the number of entries
cached.

Invalidation: entries are written under a release of their own ("bench-fill": they never mix with
the hit path's entries, and `invalidate_pattern("*")` under that release deletes them all at the
end), with the real key layout (`store.entry_key`) and ~300-byte values, a tenth for the user
being invalidated and the rest for 1,000 other users, in pipelines of 1,000 SETs. They are
ballast: what matters is how many keys Redis holds. Sizes are filled in increasing order, the same
key set growing. The timed call is `invalidate_on_commit(...)` outside a transaction, i.e. what a
write's on-commit hook runs, `reps` times per size. Before and after, the user's today list is
read through the real WSGI stack: HIT before the bump, MISS after it, whatever the size.
"""

import statistics
import time

from django.conf import settings
from django.test.utils import override_settings

from bench.hitpath import REAL_PATHS, Client
from bench.procs import percentile
from utils.cache_utils import NAMESPACES, invalidate_on_commit, invalidate_pattern, store

FILL_RELEASE = "bench-fill"
OTHER_USERS = 1000  # ballast of users 9,000,000 and up: no real user has those ids
FILL_VALUE = b"ballast;" * 40  # ~320 bytes: a small entry; its content is never read


def _fill_release():
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "RELEASE": FILL_RELEASE})


def _ballast_key(index: int, user: int) -> str:
    user = user if index % 10 == 0 else 9_000_000 + index % OTHER_USERS
    return store.entry_key(user, NAMESPACES[index % 3], {"page": index, "page_size": 20})


def invalidation(*, sizes: list[int], reps: int, user: int, token: str) -> dict:
    """`user` (a seeded one, with its access `token`) is the one invalidated."""
    results, detail, web = {}, {}, Client()
    today = Client.environ(REAL_PATHS["today"], token)

    def probe() -> str:
        return web.call(today)[2].get("X-Cache")

    with _fill_release():
        client = store.client()
        filled = 0
        try:
            for size in sorted(sizes):
                started = time.perf_counter()
                while filled < size:
                    pipe = client.pipeline(transaction=False)
                    for index in range(filled, min(size, filled + 1000)):
                        pipe.set(_ballast_key(index, user), FILL_VALUE, ex=600)
                    pipe.execute()
                    filled = min(size, filled + 1000)
                fill_seconds = time.perf_counter() - started
                probe()
                if probe() != "HIT":
                    raise AssertionError("the probe entry was not cached before the invalidation")
                samples = []
                for _ in range(reps):
                    started_ns = time.perf_counter_ns()
                    invalidate_on_commit(user_id=user, namespaces=NAMESPACES, reason="bench")
                    samples.append((time.perf_counter_ns() - started_ns) / 1000)
                if probe() != "MISS":
                    raise AssertionError(f"an entry survived the invalidation with {size} entries cached")
                results[str(size)] = round(statistics.median(samples), 1)
                detail[str(size)] = {
                    "median_us": results[str(size)], "p10_us": round(percentile(samples, 10), 1),
                    "p90_us": round(percentile(samples, 90), 1), "p99_us": round(percentile(samples, 99), 1),
                    "reps": reps, "entries_of_user": (size + 9) // 10, "fill_seconds": round(fill_seconds, 2),
                    "keys_in_cache_db": client.dbsize(),
                }  # fmt: skip
        finally:
            invalidate_pattern("*")  # every key of the fill release, by SCAN + UNLINK
    return {"invalidation_us": results, "invalidation": detail}
