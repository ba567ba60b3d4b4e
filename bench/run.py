"""`python -m bench`: run every part, print the markdown, write the JSON.

Sizes: --quick (make bench-quick, a few minutes), the default (make bench) and --tiny
(tests/bench: seconds, on 3 users x 5 contents); any size can be overridden.

Backends: DATABASE_URL (PostgreSQL; the bench works in databases of its own on that server) and
REDIS_URL (the bench's keys live under REDIS_KEY_NAMESPACE = $BENCH_REDIS_NAMESPACE, default
"resee-bench-<pid>"; only those, and those of earlier bench runs whose process is gone, are ever
deleted, never a flush) when set; else SQLite files and the embedded fakeredis, labelled as
such. The parts over HTTP need a Redis their servers' workers share: without REDIS_URL the bench
starts a private redis-server on a free loopback port; without one, or without `wrk`, they are
skipped and say why (`http_skipped`, `workload_skipped` in the JSON).
"""

import argparse
import json
import os
import platform
import secrets
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from bench import dbs

REPO = Path(__file__).resolve().parent.parent
NAMESPACE_FAMILY = "resee-bench"
PARTS = ("hit", "profile", "invalidation", "outage", "http", "workload", "revlog")
SIZES = {  # users, contents, rotation, rounds, batch, count, profile, inv_sizes, inv_reps,
    # outage_reads (each fault waits out a breaker cool-down; the tests have their own: 0 in tiny),
    # http_rounds, http_seconds, warmup, duration, revlog_reviews
    "tiny": (3, 5, 2, 2, 10, 3, 200, "100,1000", 20, 0, 1, 1, 0.5, 1.5, 500),
    "quick": (40, 100, 20, 4, 25, 10, 200, "1000,10000,100000", 60, 100, 3, 3, 2, 6, 100_000),
    "full": (500, 100, 100, 15, 100, 50, 2000, "1000,10000,100000", 300, 300, 3, 10, 15, 60, 100_000),
}
SIZED = (
    "users", "contents", "rotation", "rounds", "batch", "count", "profile", "inv_sizes", "inv_reps",
    "outage_reads", "http_rounds", "http_seconds", "warmup", "duration", "revlog_reviews",
)  # fmt: skip


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="size", const="quick", help="small data, short runs")
    size.add_argument("--tiny", action="store_const", dest="size", const="tiny", help="the test suite's sizes")
    for name, kind, text in (
        ("users", int, "benchmark users seeded (Zipf population of the workload)"),
        ("contents", int, "contents per user"),
        ("rotation", int, "ladder learners the hit path and the served hits rotate over"),
        ("rounds", int, "interleaved rounds of the hit path"),
        ("batch", int, "requests per mode and endpoint per round"),
        ("count", int, "requests per cell of the counting pass"),
        ("profile", int, "hit requests profiled"),
        ("inv-sizes", str, "comma-separated entry counts for the invalidation bench"),
        ("inv-reps", int, "timed invalidations per size"),
        ("outage-reads", int, "reads timed per Redis fault (0: no outage part)"),
        ("http-rounds", int, "interleaved rounds of the servers side by side"),
        ("http-seconds", float, "seconds of each wrk run of the servers side by side"),
        ("warmup", float, "workload warm-up seconds"),
        ("duration", float, "workload measured seconds"),
        ("revlog-reviews", int, "reviews in the Anki package whose import is timed (ten per card)"),
    ):
        parser.add_argument(f"--{name}", type=kind, help=text)
    parser.add_argument("--skip", default="", help=f"comma-separated parts to skip: {','.join(PARTS)}")
    parser.add_argument("--json", type=Path, help="where to write the JSON (default bench/results/latest.json)")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results", help="profiles and JSON")
    parser.add_argument("--work-dir", type=Path, default=REPO / "var" / "bench", help="SQLite files, logs")
    parser.add_argument("--drop-template", action="store_true", help="drop the seeded template at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    args = parser.parse_args(argv)
    args.size = args.size or "full"
    for name, default in zip(SIZED, SIZES[args.size], strict=True):
        if getattr(args, name) is None:
            setattr(args, name, default)
    args.inv_sizes = [int(size) for size in str(args.inv_sizes).split(",") if size]
    args.skip = {part for part in args.skip.split(",") if part}
    return args


def log(args, message: str) -> None:
    if not args.quiet:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_environment(namespace: str) -> dict:
    """What every process of the bench runs with: production settings (DEBUG off) with a fresh
    SECRET_KEY, throttles kept in the stack but out of reach, and the bench's key namespace.

    # Note: a rate per second keeps the throttles' history as short as one second of that user's
    # requests: a per-minute rate high enough never to answer 429 would let it grow to every
    # request of the last minute and make the throttle, not the cache, the measured cost."""
    env = {
        **os.environ, "SECRET_KEY": secrets.token_urlsafe(50), "DEBUG": "0", "REDIS_KEY_NAMESPACE": namespace,
        "THROTTLE_ANON_RATE": "1000000/s", "THROTTLE_USER_RATE": "1000000/s", "THROTTLE_AUTH_RATE": "1000000/s",
        "JWT_ACCESS_MINUTES": "120", "CACHE_ENABLED": "1", "METRICS_TOKEN": "", "WEB_ACCESS_LOG": "1",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }  # fmt: skip
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


class Run:
    """One bench run: its arguments, environment, database, Redis and results."""

    def __init__(self, args):
        self.args, self.out, self.private = args, {}, None
        # Note: one namespace per run, so two runs on one Redis never delete each other's keys;
        # the keys of runs that died are deleted at the next start.
        self.namespace = os.environ.get("BENCH_REDIS_NAMESPACE") or f"{NAMESPACE_FAMILY}-{os.getpid()}"
        self.env = bench_environment(self.namespace)
        self.redis_url = os.environ.get("REDIS_URL") or None
        seed_day = datetime.now(ZoneInfo(self.env.get("TIME_ZONE") or "UTC")).date().isoformat()
        self.database = dbs.database_for(
            users=args.users, contents=args.contents, seed_day=seed_day, work_dir=args.work_dir
        )
        self.phases, self.mark = {}, time.monotonic()

    def phase(self, name: str) -> None:
        now = time.monotonic()
        self.phases[name] = round(now - self.mark, 1)
        self.mark = now

    @property
    def shared_redis(self) -> str | None:
        """A Redis the servers' workers share: REDIS_URL, or the bench's own redis-server."""
        return self.redis_url or (self.private.url if self.private else None)

    def clear(self, url: str | None = None) -> None:
        """Delete this run's keys (SCAN + UNLINK, never a flush) on `url` or REDIS_URL; the
        embedded fakeredis lives and dies with this process."""
        from django.conf import settings

        from bench.procs import clear_namespace

        if url := url or self.redis_url:
            dbs_used = (settings.REDIS_DB_THROTTLE, settings.REDIS_DB_CACHE, settings.REDIS_DB_REVOCATION)
            clear_namespace(url, self.namespace, dbs_used)


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    run = Run(args)
    redis_label = "real (REDIS_URL)" if run.redis_url else "embedded fakeredis (REDIS_URL unset)"
    log(args, f"database={run.database.kind}, redis={redis_label}, size={args.size}")
    results = {"mode": args.size, "redis": "real" if run.redis_url else "embedded", "database": run.database.kind}
    try:
        log(args, f"seeding template {args.users} users x {args.contents} contents (kept for the next run)...")
        seeding = run.database.prepare_template(run.env, progress=not args.quiet)
        log(args, "template " + (f"seeded in {seeding['seconds']}s" if seeding["seeded"] else "reused"))
        run.database.fresh_run_copy()
        from bench.procs import PrivateRedis

        if not run.redis_url and {"workload", "http"} - args.skip and PrivateRedis.available():
            run.private = PrivateRedis(args.work_dir)
        from bench import parts

        parts.measure(run, seeding)
        results.update(run.out)
    finally:
        _cleanup(run)
    results["phase_seconds"] = run.phases
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)

    from bench import report

    results["targets"] = report.evaluate(results)
    out = args.json or args.results_dir / "latest.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(report.markdown(results))
    log(args, f"wrote {out} ({results['elapsed_seconds']}s)")
    return 0


def setup_django(env: dict, database_url: str) -> None:
    os.environ.update(env)
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()


def machine(run: Run) -> dict:
    import django

    from bench.procs import cpu_model, nproc

    redis_version = "Redis (embedded fakeredis)"
    if run.redis_url:
        import redis

        redis_version = "Redis " + redis.Redis.from_url(run.redis_url).info("server")["redis_version"]
    if run.private:
        redis_version += f"; servers on a private redis-server {run.private.version}"
    return {
        "nproc": nproc(), "cpu_model": cpu_model(), "load_average": [round(v, 2) for v in os.getloadavg()],
        "python": platform.python_version(), "django": django.get_version(),
        "redis_version": redis_version, "database_version": run.database.server_version(), "git": _git_commit(),
    }  # fmt: skip


def _git_commit() -> str:
    import subprocess

    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True).stdout
    return done.stdout.strip() + (" (with uncommitted changes)" if dirty.strip() else "")


def _cleanup(run: Run) -> None:
    try:
        from django.conf import settings
        from django.db import connections

        if settings.configured:
            connections.close_all()
            run.clear()
    except Exception as exc:  # cleanup must not hide the real error
        log(run.args, f"cleanup: could not clear the namespace: {exc}")
    try:
        run.database.drop_run()
        if run.args.drop_template:
            run.database.drop_template()
    except Exception as exc:
        log(run.args, f"cleanup: could not drop the bench database: {exc}")
    if run.private:
        run.private.stop()
