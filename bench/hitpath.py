"""The hit path, in-process, through Django's real WSGI handler: middleware, JWT authentication and
its revocation HMGET, permission and throttle classes all run, as under a server; no socket.

Modes, per endpoint (today, stats, content page 1):

- limit:    bench/views.limit_view behind a bare handler (no middleware, no DRF): the same JWT
            check and a replay of the hit's own Redis round trip, answering the stored body:
            the cost no implementation can go below;
- floor:    bench/views.FloorApi, the same stack answering a precomputed body (the stack floor);
- hit:      the real view, entry cached (X-Cache: HIT);
- uncached: the real view with RESEE_CACHE["ENABLED"] off (X-Cache: BYPASS): SQL + serialisation;
- miss:     the real view right after the user's namespace was bumped (the bump is not timed):
            what a miss costs over `uncached` (MGET, compute, SET of the entry).

Requests rotate over `rotation` users, so each user's throttle history stays as short as a real
user's; modes are interleaved in rounds (shuffled order each round) so drift hits all alike. Each
request is timed from the WSGI call to the end of its body and `close()`. Nothing here names the
app's internals: the bench sees a hit as a request, its SQL and its packets.
"""

import contextlib
import gc
import io
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

from bench import counting, views
from bench.procs import percentile

ENDPOINTS = ("today", "stats", "content")
MODES = ("limit", "floor", "hit", "uncached", "miss")
REAL_PATHS = {"today": "/api/review/today/", "stats": "/api/analytics/stats/", "content": "/api/content/"}


@dataclass
class Plan:
    rounds: int
    batch: int
    count_requests: int  # requests per (endpoint, mode) in the counting pass


def path_for(mode: str, endpoint: str) -> str:
    if mode in ("hit", "uncached", "miss"):
        return REAL_PATHS[endpoint]
    return f"/bench/{mode}/{endpoint}/"


class BareHandler(WSGIHandler):
    """Django's WSGI handler with no middleware at all: URL resolution and the view."""

    def load_middleware(self, is_async=False):
        super().load_middleware(is_async)
        self._view_middleware, self._template_response_middleware, self._exception_middleware = [], [], []
        self._middleware_chain = convert_exception_to_response(self._get_response)


class Client:
    """Calls the WSGI handler with a prebuilt environ per (mode, endpoint, user); the limit's
    paths go to the bare handler."""

    def __init__(self):
        self.handlers = {False: WSGIHandler(), True: BareHandler()}
        self.status, self.headers = "", []

    def _start_response(self, status, headers, exc_info=None):
        self.status, self.headers = status, headers

    @staticmethod
    def environ(path: str, token: str, query: str = "") -> dict:
        return {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "HTTP_ACCEPT": "application/json",
            "HTTP_AUTHORIZATION": f"Bearer {token}", "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        }  # fmt: skip

    def call(self, template: dict) -> tuple[int, bytes, dict]:
        environ = {**template, "wsgi.input": io.BytesIO()}
        response = self.handlers[environ["PATH_INFO"].startswith("/bench/limit/")](environ, self._start_response)
        body = b"".join(response)
        response.close()
        return int(self.status[:3]), body, dict(self.headers)

    def timed(self, template: dict) -> int:
        """Nanoseconds for one request; the response is checked by the counting pass, not here."""
        started = time.perf_counter_ns()
        self.call(template)
        return time.perf_counter_ns() - started


def _cache_off():
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "ENABLED": False})


def _expect(status: int, headers: dict, mode: str, endpoint: str, *, x_cache: str | None = None) -> None:
    if status != 200:
        raise RuntimeError(f"hit path: {mode} {endpoint} answered {status}")
    if x_cache is not None and headers.get("X-Cache") != x_cache:
        raise RuntimeError(f"hit path: {mode} {endpoint} answered X-Cache={headers.get('X-Cache')}, wanted {x_cache}")


RATIOS = {  # name: (numerator mode, denominator mode, digits)
    "hit_over_floor": ("hit", "floor", 3),
    "hit_over_limit": ("hit", "limit", 3),
    "uncached_over_hit": ("uncached", "hit", 2),
    "miss_over_uncached": ("miss", "uncached", 3),
}


def measure(*, tokens: dict[int, str], plan: Plan, seed: int = 1, modes: tuple[str, ...] = MODES) -> dict:
    """tokens: user id -> access token, for the users to rotate over."""
    client = Client()
    users = sorted(tokens)
    cells = [(mode, endpoint, user) for mode in modes for endpoint in ENDPOINTS for user in users]
    templates = {
        (mode, endpoint, user): Client.environ(path_for(mode, endpoint), tokens[user]) for mode, endpoint, user in cells
    }
    info = _warm(client, templates, users)
    counts = _count(client, templates, users, plan.count_requests, modes)
    samples = _timed_rounds(client, templates, users, plan, seed, modes)
    results = {}
    for endpoint in ENDPOINTS:
        row = {}
        for mode in modes:
            us = [ns / 1000 for ns in samples[(mode, endpoint)]]
            row[f"{mode}_us"] = round(statistics.median(us), 1)
            row[f"{mode}_p99_us"] = round(percentile(us, 99), 1)
            row[f"{mode}_samples"] = len(us)
            row[f"{mode}_sql_queries"] = counts[(mode, endpoint)]["sql"]
            row[f"{mode}_redis_round_trips"] = counts[(mode, endpoint)]["redis"]
        row["body_bytes"] = info[endpoint]["body_bytes"]
        if endpoint == "today":
            row["items"] = info[endpoint]["items"]
        for name, (over, under, digits) in RATIOS.items():
            if over in modes and under in modes:
                row[name] = round(row[f"{over}_us"] / row[f"{under}_us"], digits)
        results[endpoint] = row
    return {"rotation_users": len(users), "rounds": plan.rounds, "batch": plan.batch, "endpoints": results}


def _warm(client: Client, templates: dict, users: list[int]) -> dict:
    """Fill the real cache (MISS, then HIT); take each hit's body as the floor's answer and its round
    trip as the limit's. Loads every user's revocation hash too, as any earlier request would."""
    import orjson

    info = {endpoint: {"body_bytes": [], "items": []} for endpoint in ENDPOINTS}
    for endpoint in ENDPOINTS:
        for user in users:
            status, _, headers = client.call(templates[("hit", endpoint, user)])
            _expect(status, headers, "hit", endpoint)
            with counting.counting() as tally:
                status, body, headers = client.call(templates[("hit", endpoint, user)])
            _expect(status, headers, "hit", endpoint, x_cache="HIT")
            views.FLOOR_BODIES[(endpoint, user)] = body
            if not all(commands for _, commands in tally.packets):
                raise RuntimeError(f"hit path: a packet of the {endpoint} hit was sent with no command seen")
            views.LIMIT_TRIPS[(endpoint, user)] = tally.packets
            info[endpoint]["body_bytes"].append(len(body))
            if endpoint == "today":
                info[endpoint]["items"].append(len(orjson.loads(body)["results"]))
    median = statistics.median
    return {name: {"body_bytes": round(median(v["body_bytes"])), "items": v["items"] and round(median(v["items"]))}
            for name, v in info.items()}  # fmt: skip


def _count(client: Client, templates: dict, users: list[int], n: int, modes: tuple[str, ...]) -> dict:
    """SQL queries and Redis round trips per request, averaged over n requests per cell."""
    dbs = {settings.REDIS_DB_CACHE: "cache", settings.REDIS_DB_THROTTLE: "throttle",
           settings.REDIS_DB_REVOCATION: "revocation"}  # fmt: skip
    counts = {}
    for endpoint in ENDPOINTS:
        for mode in modes:
            expected = {"hit": "HIT", "uncached": "BYPASS", "miss": "MISS"}.get(mode)
            sql, round_trips, commands = 0, Counter(), Counter()
            for i in range(n):
                user = users[i % len(users)]
                if mode == "miss":
                    _bump(user, endpoint)
                with _cache_off() if mode == "uncached" else contextlib.nullcontext(), counting.counting() as tally:
                    status, _, headers = client.call(templates[(mode, endpoint, user)])
                _expect(status, headers, mode, endpoint, x_cache=expected)
                sql, round_trips, commands = sql + tally.sql, round_trips + tally.round_trips, commands + tally.commands
            redis = {name: round(round_trips[db] / n, 2) for db, name in dbs.items()}
            redis["total"] = round(sum(round_trips.values()) / n, 2)
            redis["commands"] = round(sum(commands.values()) / n, 2)
            counts[(mode, endpoint)] = {"sql": round(sql / n, 2), "redis": redis}
    return counts


def _bump(user: int, endpoint: str) -> None:
    """Outside a transaction the invalidation is sent at once (each endpoint's namespace is its name)."""
    from utils.cache_utils import invalidate_on_commit

    invalidate_on_commit(user_id=user, namespaces=(endpoint,), reason="bench")


def _timed_rounds(client: Client, templates: dict, users: list[int], plan: Plan, seed: int, modes) -> dict:
    rng = random.Random(seed)
    samples = {(mode, endpoint): [] for mode in modes for endpoint in ENDPOINTS}
    cursor = 0
    for _ in range(plan.rounds):
        cells = [(mode, endpoint) for mode in modes for endpoint in ENDPOINTS]
        rng.shuffle(cells)
        for mode, endpoint in cells:
            batch = [users[(cursor + i) % len(users)] for i in range(plan.batch)]
            gc.collect()
            out = samples[(mode, endpoint)]
            with _cache_off() if mode == "uncached" else contextlib.nullcontext():
                for user in batch:
                    if mode == "miss":
                        _bump(user, endpoint)
                    out.append(client.timed(templates[(mode, endpoint, user)]))
        cursor += plan.batch
    return samples


def profile_hit(*, tokens: dict[int, str], requests: int, endpoint: str) -> dict:
    """Profile `requests` cache hits: pyinstrument's call tree (when installed) and cProfile's flat
    table by own time. Returns the texts; the caller writes them to bench/results/."""
    import cProfile
    import pstats

    client = Client()
    users = sorted(tokens)
    templates = [Client.environ(REAL_PATHS[endpoint], tokens[user]) for user in users]
    for template in templates:  # make sure every entry is a hit
        client.call(template)
    out = {"endpoint": endpoint, "requests": requests}
    try:
        from pyinstrument import Profiler
    except ImportError:
        out["pyinstrument"] = None
    else:
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for i in range(requests):
            client.timed(templates[i % len(templates)])
        profiler.stop()
        out["pyinstrument"] = profiler.output_text(unicode=False, color=False, short_mode=False)
    profile = cProfile.Profile()
    profile.enable()
    for i in range(requests):
        client.timed(templates[i % len(templates)])
    profile.disable()
    text = io.StringIO()
    stats = pstats.Stats(profile, stream=text)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(45)
    out["cprofile"] = text.getvalue()
    out["breakdown"] = _breakdown(stats, requests)
    return out


def _breakdown(stats, requests: int) -> list[dict]:
    """Own time per request by where the code lives: the project by folder, libraries by package.
    # Note: by place, not by function name, so the table survives a refactor of the read path."""
    areas = Counter()
    for (filename, _, _), entry in stats.stats.items():
        areas[_area(filename)] += entry[2]
    total = sum(areas.values())
    rows = [{"part": "whole request", "us_per_request": round(total / requests * 1e6, 1), "share": 1.0}]
    for area, seconds in areas.most_common(12):
        us = round(seconds / requests * 1e6, 1)
        rows.append({"part": area, "us_per_request": us, "share": round(seconds / total, 3)})
    return rows


def _area(filename: str) -> str:
    path = Path(filename)
    if "site-packages" in path.parts:
        return path.parts[path.parts.index("site-packages") + 1].removesuffix(".py")
    if path.is_relative_to(settings.BASE_DIR):
        return "project: " + str(path.parent.relative_to(settings.BASE_DIR))
    return "Python (stdlib, builtins)"
