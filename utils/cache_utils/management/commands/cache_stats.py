"""Print the API cache's counters and its Redis server's state.

    manage.py cache_stats                   # a table
    manage.py cache_stats --json            # the same as one JSON object
    PROMETHEUS_MULTIPROC_DIR=/run/resee-prometheus manage.py cache_stats   # a gunicorn server's

Exits non-zero, with a message, when the `api` alias's Redis cannot be reached (after printing
the counters, which do not need it).
"""

import json
import os

from django.core.management.base import BaseCommand, CommandError
from redis.exceptions import RedisError

from utils.cache_utils.stats import (
    RESULTS,
    Counters,
    forget_own_gauges,
    hit_ratio,
    read_counters,
    redis_address,
    redis_report,
)


class Command(BaseCommand):
    help = "Show the API cache's request counters (hit ratio per endpoint) and Redis INFO."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="one JSON object instead of a table")
        parser.add_argument(
            "--metrics-dir",
            default=os.environ.get("PROMETHEUS_MULTIPROC_DIR"),
            help="a prometheus multiprocess directory to aggregate (default: $PROMETHEUS_MULTIPROC_DIR)",
        )

    def handle(self, *args, json: bool, metrics_dir: str | None, **options):
        try:
            counters = read_counters(metrics_dir)
            redis, failure = self._redis()
        finally:
            forget_own_gauges()
        self.stdout.write(_as_json(counters, redis, failure) if json else _as_table(counters, redis))
        if failure:
            raise CommandError(failure)

    def _redis(self) -> tuple[dict | None, str | None]:
        address = redis_address()
        try:
            return {"server": address, **redis_report()}, None
        except RedisError as exc:
            return None, f"Redis of the 'api' cache at {address} is unreachable: {exc}"


def _as_json(counters: Counters, redis: dict | None, failure: str | None) -> str:
    requests = {
        endpoint: {
            **{result: int(count) for result, count in by_result.items()},
            "total": int(sum(by_result.values())),
            "hit_ratio": hit_ratio(by_result),
        }
        for endpoint, by_result in counters.requests.items()
    }
    report = {
        "metrics_source": counters.source,
        "requests": requests,
        "errors": {operation: int(count) for operation, count in counters.errors.items()},
        "invalidations": {reason: int(count) for reason, count in counters.invalidations.items()},
        "redis": redis,
        "redis_error": failure,
    }
    return json.dumps(report, indent=2)


def _as_table(counters: Counters, redis: dict | None) -> str:
    lines = [f"Cache requests (counted by {counters.source})"]
    lines.append(f"  {'endpoint':<9}" + "".join(f"{r:>9}" for r in (*RESULTS, "total")) + f"{'hit ratio':>11}")
    for endpoint, by_result in counters.requests.items():
        cells = "".join(f"{by_result[r]:>9.0f}" for r in RESULTS) + f"{sum(by_result.values()):>9.0f}"
        lines.append(f"  {endpoint:<9}{cells}{_percent(hit_ratio(by_result)):>11}")
    lines.append("  hit ratio: (hit + stale) / all requests, bypass included")
    for title, values in (("errors", counters.errors), ("invalidations", counters.invalidations)):
        if values:
            lines.append(f"  {title}: " + ", ".join(f"{name}={value:.0f}" for name, value in sorted(values.items())))
    if redis is not None:
        lines += _redis_lines(redis)
    return "\n".join(lines)


def _redis_lines(redis: dict) -> list[str]:
    hits, misses = redis["keyspace_hits"], redis["keyspace_misses"]
    memory = f"{_size(redis['used_memory'])} of {_size(redis['maxmemory'])} maxmemory"
    if redis.get("maxmemory_policy"):
        memory += f" ({redis['maxmemory_policy']})"
    return [
        f"Redis {redis['server']} (from {redis['source']}; hits, memory and clients are server-wide)",
        f"  keyspace hits / misses  {_number(hits)} / {_number(misses)} ({_percent(redis['hit_ratio'])})",
        f"  memory                  {memory}",
        f"  evicted keys            {_number(redis['evicted_keys'])}",
        f"  connected clients       {_number(redis['connected_clients'])}",
        "  keys                    " + (" ".join(f"{db}={n}" for db, n in redis["keys"].items()) or "none"),
    ]


def _percent(ratio: float | None) -> str:
    return "-" if ratio is None else f"{100 * ratio:.1f}%"


def _number(value) -> str:
    return "n/a" if value is None else str(value)


def _size(value: int | None) -> str:
    if value is None:
        return "n/a"
    if value == 0:
        return "0 (no limit)"
    return f"{value / 2**20:.1f} MB"
