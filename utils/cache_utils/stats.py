"""What `manage.py cache_stats` reports: the cache layer's Prometheus counters and the Redis
server's own view (INFO) of the `api` alias's server.

Counters come from this process's registry, or, when PROMETHEUS_MULTIPROC_DIR names the
directory a gunicorn server's workers write to, from all of them added up
(`MultiProcessCollector`), so a command run beside the server sees the server's counts.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from prometheus_client import REGISTRY
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from redis.exceptions import ResponseError

from utils import redis_layer
from utils.cache_utils import store
from utils.cache_utils.conf import NAMESPACES

RESULTS = ("hit", "stale", "miss", "bypass")
INFO_FIELDS = ("keyspace_hits", "keyspace_misses", "used_memory", "maxmemory", "evicted_keys", "connected_clients")


@dataclass
class Counters:
    source: str
    requests: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: dict[str, float] = field(default_factory=dict)
    invalidations: dict[str, float] = field(default_factory=dict)


def read_counters(multiproc_dir: str | None) -> Counters:
    """The cache counters of this process, or of every process writing to `multiproc_dir`."""
    if multiproc_dir:
        files = len(list(Path(multiproc_dir).glob("*.db")))
        collector = MultiProcessCollector(None, path=multiproc_dir)
        counters = Counters(source=f"every process writing to {multiproc_dir} ({files} files)")
    else:
        collector = REGISTRY
        counters = Counters(source="this process only: PROMETHEUS_MULTIPROC_DIR is not set")
    counters.requests = {namespace: dict.fromkeys(RESULTS, 0.0) for namespace in NAMESPACES}
    for metric in collector.collect():
        for sample in metric.samples:
            _add(counters, sample.name, sample.labels, sample.value)
    return counters


def _add(counters: Counters, name: str, labels: dict, value: float) -> None:
    if name == "resee_cache_requests_total":
        by_result = counters.requests.setdefault(labels["endpoint"], dict.fromkeys(RESULTS, 0.0))
        by_result[labels["result"]] = by_result.get(labels["result"], 0.0) + value
    elif name == "resee_redis_errors_total":
        where = f"{labels['purpose']} {labels['operation']}"
        counters.errors[where] = counters.errors.get(where, 0.0) + value
    elif name == "resee_cache_invalidations_total":
        counters.invalidations[labels["reason"]] = counters.invalidations.get(labels["reason"], 0.0) + value


def hit_ratio(by_result: dict[str, float]) -> float | None:
    """Share of requests answered from the cache without computing (hit or stale); bypasses count
    as requests. None before the first request."""
    total = sum(by_result.values())
    return (by_result["hit"] + by_result["stale"]) / total if total else None


def redis_address() -> str:
    """host:port/db of the `api` alias, without credentials."""
    if settings.REDIS_EMBEDDED:
        return "embedded fakeredis, in this process only"
    if redis_layer.route(redis_layer.CACHE).cluster:
        nodes = store.client().get_primaries()
        return f"cluster of {len(nodes)} masters: " + ", ".join(sorted(node.name for node in nodes))
    location = urlsplit(settings.CACHES[redis_layer.PURPOSES[redis_layer.CACHE]]["LOCATION"])
    return f"{location.hostname}:{location.port or 6379}{location.path}"


def redis_report() -> dict:
    """INFO of the `api` alias's server (hits and misses are server-wide, every database). A
    server without INFO (the embedded fakeredis) gets key counts per database from DBSIZE.
    Raises RedisError when the server cannot be reached."""
    client = store.client()
    try:
        info = _cluster_info(client) if redis_layer.route(redis_layer.CACHE).cluster else client.info()
    except ResponseError:
        report = dict.fromkeys(INFO_FIELDS)
        return {**report, "source": "DBSIZE; the server has no INFO", "hit_ratio": None, "keys": _dbsizes()}
    report = {name: info.get(name) for name in INFO_FIELDS}
    hits, misses = report["keyspace_hits"] or 0, report["keyspace_misses"] or 0
    return {
        **report,
        "source": f"INFO of redis {info.get('redis_version', '?')}",
        "maxmemory_policy": info.get("maxmemory_policy"),
        "hit_ratio": hits / (hits + misses) if hits + misses else None,
        "keys": {name: db["keys"] for name, db in info.items() if name.startswith("db") and isinstance(db, dict)},
    }


def _cluster_info(client) -> dict:
    """INFO of every master, added up (memory, hits, evictions, clients, keys); the first
    master's for the rest (version, policy: one configuration)."""
    by_node = client.info(target_nodes=client.PRIMARIES)
    infos = [by_node[name] for name in sorted(by_node)]
    total = {**infos[0], **{name: sum(info.get(name) or 0 for info in infos) for name in INFO_FIELDS}}
    total["db0"] = {"keys": sum(info.get("db0", {}).get("keys", 0) for info in infos)}
    return total


def _dbsizes() -> dict[str, int]:
    sizes = {}
    for purpose in redis_layer.PURPOSES:
        client = redis_layer.client(purpose)
        sizes[f"db{client.connection_pool.connection_kwargs.get('db', 0)}"] = client.dbsize()
    return dict(sorted(sizes.items()))


def forget_own_gauges() -> None:
    """For management commands, before they exit."""
    # Note: under PROMETHEUS_MULTIPROC_DIR, importing the metrics made this process write live
    # gauge files there (the breaker state). A command is not a worker: left behind, a dead
    # command's "breaker open" would count in the server's resee_redis_breaker_open forever.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        mark_process_dead(os.getpid())
