"""Reads during a Redis outage, in-process through the hit path's WSGI handler: every purpose
(throttle, cache, revocation) pointed at a redis-server of the bench's own, then that server
paused (CLIENT PAUSE: slow, not down), blackholed (the app pointed at a port that takes
connections and never answers) or SIGKILLed and restarted empty.

Per fault: the latency of the reads after the first 3 requests (each failed round trip counts one
failure; the third opens the breaker), how many answered 200, whether a logged-out token stayed
401, and how long after the mend the first HIT came.
"""

import socket
import statistics
import time
from collections import Counter
from contextlib import contextmanager

import redis
from django.conf import settings
from django.test.utils import override_settings

from bench.hitpath import ENDPOINTS, REAL_PATHS, Client
from bench.procs import PrivateRedis, percentile

FAULTS = ("paused", "blackholed", "killed")
FIRST = 3  # requests that may wait on Redis: the breaker opens on the third failure
RECOVERY_LIMIT = 15.0  # seconds the bench waits for the first HIT after the mend
PAUSE_MS = 3000  # longer than the reads take (each a BYPASS from the database, no Redis wait)


def measure(*, tokens: dict[int, str], revoked: str, work_dir, reads: int) -> dict:
    client = Client()
    templates = [Client.environ(REAL_PATHS[endpoint], token) for token in tokens.values() for endpoint in ENDPOINTS]
    refused = Client.environ(REAL_PATHS["today"], revoked)
    results = {}
    for fault in FAULTS:
        server = PrivateRedis(work_dir)
        try:
            with override_settings(CACHES=_caches_at(server.url)):
                results[fault] = _one(client, server, fault, templates, refused, reads)
        finally:
            server.stop()
    return results


def _one(client: Client, server: PrivateRedis, fault: str, templates: list, refused: dict, reads: int) -> dict:
    for template in templates:  # a MISS, then a HIT: entries the outage could make stale
        client.call(template), client.call(template)
    with _broken(fault, server):
        first = [client.call(templates[i % len(templates)])[0] for i in range(FIRST)]
        samples, statuses = [], Counter()
        for i in range(reads):
            started = time.perf_counter_ns()
            status, _, _ = client.call(templates[i % len(templates)])
            samples.append((time.perf_counter_ns() - started) / 1e6)
            statuses[status] += 1
        revoked_status = client.call(refused)[0]
    mended = time.monotonic()
    while time.monotonic() - mended < RECOVERY_LIMIT:
        status, _, headers = client.call(templates[0])
        if headers.get("X-Cache") == "HIT":
            break
        time.sleep(0.05)
    recovered = round(time.monotonic() - mended, 2) if headers.get("X-Cache") == "HIT" else None
    return {
        "first_statuses": first, "reads": reads, "ok": statuses[200], "statuses": dict(statuses),
        "p50_ms": round(statistics.median(samples), 2), "p99_ms": round(percentile(samples, 99), 2),
        "max_ms": round(max(samples), 2), "revoked_status": revoked_status, "recovery_seconds": recovered,
    }  # fmt: skip


@contextmanager
def _broken(fault: str, server: PrivateRedis):
    if fault == "paused":
        with redis.Redis(port=server.port) as admin:
            admin.client_pause(PAUSE_MS, all=True)
        yield
        # Note: CLIENT UNPAUSE waits out the pause like any command; a PING returns when it ends.
        with redis.Redis(port=server.port, socket_timeout=PAUSE_MS / 1000 + 5) as admin:
            admin.ping()
    elif fault == "blackholed":
        with socket.socket() as hole:
            hole.bind(("127.0.0.1", 0))
            hole.listen(128)
            with override_settings(CACHES=_caches_at(f"redis://127.0.0.1:{hole.getsockname()[1]}")):
                yield
    else:
        server.kill()
        try:
            yield
        finally:
            server.start()


def _caches_at(base_url: str) -> dict:
    """settings.CACHES with every alias on `base_url`, each on its own database, real sockets."""
    return {
        alias: {
            **config,
            "LOCATION": f"{base_url}/{config['LOCATION'].rsplit('/', 1)[-1]}",
            "OPTIONS": {**config["OPTIONS"], "CONNECTION_POOL_KWARGS": {}},
        }
        for alias, config in settings.CACHES.items()
    }
