"""`python -m bench`: run every part, print the markdown, write the JSON.

Sizes: --quick (make bench-quick, under a minute), the default (make bench, a few minutes on 2
cores) and --tiny (tests/bench: seconds, on 3 users x 5 contents); any size can be overridden.

Backends: DATABASE_URL (PostgreSQL; the bench works in databases of its own on that server) and
REDIS_URL (the bench's keys live under REDIS_KEY_NAMESPACE = $BENCH_REDIS_NAMESPACE, default
"resee-bench-<pid>"; only those, and those of earlier bench runs whose process is gone, are ever
deleted, never a flush) when set; else SQLite files and the embedded fakeredis, labelled as
such. The workload needs a Redis shared by gunicorn's two workers: without REDIS_URL it starts a
private redis-server on a free loopback port, and without a redis-server binary it is skipped
(said on stderr and in the JSON as `workload_skipped`).
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

SIZES = {
    "tiny": dict(
        users=3,
        contents=5,
        rotation=3,
        rounds=2,
        batch=10,
        count=3,
        profile=200,
        inv_sizes="100,1000",
        inv_reps=20,
        stats_rows="200,2000",
        warmup=0.5,
        duration=1.5,
        processes=1,
        connections=2,
        outage_reads=0,  # Note: each fault waits out a breaker cool-down; the tests have their own
        http_rounds=1,
        http_seconds=1,
    ),
    "quick": dict(
        users=40,
        contents=100,
        rotation=40,
        rounds=4,
        batch=25,
        count=10,
        profile=200,
        inv_sizes="1000,10000,100000",
        inv_reps=60,
        stats_rows="1000,50000",
        warmup=2,
        duration=6,
        processes=2,
        connections=4,
        outage_reads=100,
        http_rounds=3,
        http_seconds=3,
    ),
    "full": dict(
        users=500,
        contents=100,
        rotation=100,
        rounds=15,
        batch=100,
        count=50,
        profile=2000,
        inv_sizes="1000,10000,100000",
        inv_reps=300,
        stats_rows="1000,50000",
        warmup=15,
        duration=60,
        processes=2,
        connections=4,
        outage_reads=300,
        http_rounds=3,
        http_seconds=10,
    ),
}


WORKERS = 2  # gunicorn's, as deployed


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_const", dest="size", const="quick", help="small data, short workload")
    size.add_argument("--tiny", action="store_const", dest="size", const="tiny", help="the test suite's sizes")
    parser.add_argument("--users", type=int, help="benchmark users seeded (Zipf population of the workload)")
    parser.add_argument("--contents", type=int, help="contents per user")
    parser.add_argument("--rotation", type=int, help="users the hit path rotates over")
    parser.add_argument("--rounds", type=int, help="interleaved rounds of the hit path")
    parser.add_argument("--batch", type=int, help="requests per mode and endpoint per round")
    parser.add_argument("--count", type=int, help="requests per cell of the counting pass")
    parser.add_argument("--profile", type=int, help="hit requests profiled")
    parser.add_argument("--inv-sizes", help="comma-separated entry counts for the invalidation bench")
    parser.add_argument("--inv-reps", type=int, help="timed invalidations per size")
    parser.add_argument("--stats-rows", help="comma-separated history sizes of the stats miss bench (one user each)")
    parser.add_argument("--outage-reads", type=int, help="reads timed per Redis fault (0: no outage phase)")
    parser.add_argument("--http-rounds", type=int, help="interleaved rounds of the servers side by side")
    parser.add_argument("--http-seconds", type=float, help="seconds of each wrk run of the servers side by side")
    parser.add_argument("--warmup", type=float, help="workload warm-up seconds")
    parser.add_argument("--duration", type=float, help="workload measured seconds")
    parser.add_argument("--mix", help="workload mix, e.g. today=55,content=20,stats=15,complete=5,edit=5 (default)")
    parser.add_argument("--modes", default="cache_off,cache_on", help="workload modes to run")
    parser.add_argument("--processes", type=int, help="load generator processes")
    parser.add_argument("--connections", type=int, help="keep-alive connections per load process")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated parts to skip: hit,profile,memory,invalidation,stats,outage,http,workload,cluster",
    )
    parser.add_argument("--json", type=Path, help="where to write the JSON (default bench/results/latest.json)")
    parser.add_argument("--results-dir", type=Path, default=REPO / "bench" / "results", help="profiles and JSON")
    parser.add_argument("--work-dir", type=Path, default=REPO / "var" / "bench", help="SQLite files, logs")
    parser.add_argument("--drop-template", action="store_true", help="drop the seeded template at the end")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.add_argument(
        "--wait-idle", type=float, default=0, help="wait up to this many seconds for other processes to go quiet"
    )
    args = parser.parse_args(argv)
    args.size = args.size or "full"
    for name, default in SIZES[args.size].items():
        if getattr(args, name) is None:
            setattr(args, name, default)
    args.inv_sizes = [int(size) for size in str(args.inv_sizes).split(",") if size]
    args.stats_rows = [int(size) for size in str(args.stats_rows).split(",") if size]
    args.skip = {part for part in args.skip.split(",") if part}
    from bench.loadgen import MIX, parse_mix

    args.mix = parse_mix(args.mix) if args.mix else MIX
    args.modes = [mode for mode in args.modes.split(",") if mode in ("cache_off", "cache_on")]
    return args


def log(args, message: str) -> None:
    if not args.quiet:
        print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def bench_environment(namespace: str) -> dict:
    """What every process of the bench runs with: production settings (DEBUG off) with a fresh
    SECRET_KEY, throttles kept in the stack but out of reach, and the bench's key namespace.

    # Note: a rate per second keeps the throttles' history (a list of timestamps per user, read
    # and rewritten by every request) as short as one second of that user's requests: a per-minute
    # rate high enough never to answer 429 would let it grow to every request of the last minute
    # and make the throttle, not the cache, the measured cost."""
    env = {
        **os.environ,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DEBUG": "0",
        "THROTTLE_ANON_RATE": "1000000/s",
        "THROTTLE_USER_RATE": "1000000/s",
        "THROTTLE_AUTH_RATE": "1000000/s",
        "REDIS_KEY_NAMESPACE": namespace,
        "JWT_ACCESS_MINUTES": "120",
        "CACHE_ENABLED": "1",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    # Note: one namespace per run, so two runs on one Redis never delete each other's keys; the
    # keys of runs that died are deleted at the next start.
    namespace = os.environ.get("BENCH_REDIS_NAMESPACE") or f"{NAMESPACE_FAMILY}-{os.getpid()}"
    env = bench_environment(namespace)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    seed_day = datetime.now(ZoneInfo(env.get("TIME_ZONE") or "UTC")).date().isoformat()
    database = dbs.database_for(users=args.users, contents=args.contents, seed_day=seed_day, work_dir=args.work_dir)
    redis_url = os.environ.get("REDIS_URL") or None
    log(
        args,
        f"database={database.kind} "
        f"({'DATABASE_URL' if database.kind == 'postgresql' else 'SQLite, DATABASE_URL unset'}), "
        f"redis={'real (REDIS_URL)' if redis_url else 'embedded fakeredis (REDIS_URL unset)'}, size={args.size}",
    )

    private = None
    results = {"mode": args.size, "redis": "real" if redis_url else "embedded", "database": database.kind}
    try:
        log(args, f"seeding template {args.users} users x {args.contents} contents (kept for the next run)...")
        seeding = database.prepare_template(env, progress=not args.quiet)
        log(args, "template " + (f"seeded in {seeding['seconds']}s" if seeding["seeded"] else "reused"))
        database.fresh_run_copy()
        if not redis_url and {"workload", "memory", "http"} - args.skip:
            from bench.workload import PrivateRedis

            if PrivateRedis.available():
                private = PrivateRedis(args.work_dir)
        results.update(_measure(args, env, database, redis_url, private, namespace, seeding))
    finally:
        _cleanup(args, env, database, redis_url, private, namespace)
    results["elapsed_seconds"] = round(time.monotonic() - started, 1)

    from bench import report

    results["targets"] = report.evaluate(results)
    text = report.markdown(results)
    print(text)
    out = args.json or args.results_dir / "latest.json"
    out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    log(args, f"wrote {out} ({results['elapsed_seconds']}s)")
    return 0


def _setup_django(env: dict, database_url: str) -> None:
    os.environ.update(env)
    os.environ["DATABASE_URL"] = database_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    import django

    django.setup()


def _outage(args, out: dict, tokens: dict[int, str]) -> None:
    from bench import outage
    from bench.workload import PrivateRedis

    if not PrivateRedis.available():
        out["outage_skipped"] = "no redis-server binary"
        return
    log(args, f"Redis outage: {', '.join(outage.FAULTS)}, {args.outage_reads} reads each")
    out["outage"] = outage.measure(
        tokens=tokens, revoked=_revoked_token(), work_dir=args.work_dir, reads=args.outage_reads
    )


def _revoked_token() -> str:
    """An access token of a bench user, logged out."""
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.services import user_logout

    user = get_user_model().objects.filter(username__startswith="bench-").order_by("id").first()
    token = AccessToken.for_user(user)
    user_logout(user_id=user.id, access=token)
    return str(token)


def _tokens(user_limit: int | None = None) -> dict[int, str]:
    from django.contrib.auth import get_user_model
    from rest_framework_simplejwt.tokens import AccessToken

    users = get_user_model().objects.filter(username__startswith="bench-").order_by("id")
    if user_limit:
        users = users[:user_limit]
    return {user.id: str(AccessToken.for_user(user)) for user in users}


def _clear(env, redis_url, namespace) -> None:
    from django.conf import settings

    from bench.workload import clear_namespace

    dbs_used = (settings.REDIS_DB_THROTTLE, settings.REDIS_DB_CACHE, settings.REDIS_DB_REVOCATION)
    if redis_url:
        clear_namespace(redis_url, namespace, dbs_used)
    else:
        from utils import redis_layer

        for purpose in redis_layer.PURPOSES:
            client = redis_layer.client(purpose)
            keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
            if keys:
                client.unlink(*keys)


def _measure(args, env, database, redis_url, private, namespace, seeding) -> dict:
    _setup_django(env, database.url("run"))
    import django
    import rest_framework
    from django.conf import settings
    from django.db import connections

    from bench import cachecost, hitpath, workload

    out = {}
    redis_version = "Redis (embedded fakeredis)"
    if redis_url:
        import redis

        redis_version = "Redis " + redis.Redis.from_url(redis_url).info("server")["redis_version"]
    out["machine"] = {
        "nproc": workload.nproc(),
        "cpu_model": workload.cpu_model(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "drf": rest_framework.VERSION,
        "redis_version": redis_version + (f"; workload on private redis-server {private.version}" if private else ""),
        "database_version": database.server_version(),
        "git": _git_state(),
    }
    out["config"] = {
        "users": args.users,
        "contents": args.contents,
        "seed_day": database.seed_day,
        "template_seeded_seconds": seeding["seconds"] if seeding["seeded"] else None,
        "redis_key_namespace": namespace,
        "throttle_rates": {k: env[k] for k in ("THROTTLE_ANON_RATE", "THROTTLE_USER_RATE", "THROTTLE_AUTH_RATE")},
        "cache_ttl": settings.RESEE_CACHE["TTL"],
    }
    if redis_url:
        workload.clear_stale_namespaces(
            redis_url,
            NAMESPACE_FAMILY,
            (settings.REDIS_DB_THROTTLE, settings.REDIS_DB_CACHE, settings.REDIS_DB_REVOCATION),
        )
    _clear(env, redis_url, namespace)
    tokens = _tokens()
    rotation = dict(list(tokens.items())[: args.rotation])

    phases = out["phase_seconds"] = {}
    mark = time.monotonic()

    def phase(name):
        nonlocal mark
        now = time.monotonic()
        phases[name] = round(now - mark, 1)
        mark = now

    waited = 0.0
    out["background_load"] = workload.background_cpu()
    while out["background_load"]["cores"] > 0.15 and waited < args.wait_idle:
        log(args, f"waiting for the machine to go quiet: {out['background_load']}")
        time.sleep(4)
        waited += 5
        out["background_load"] = workload.background_cpu()
    if out["background_load"]["cores"] > 0.15:
        log(args, f"warning: the machine is busy elsewhere ({out['background_load']}); figures will be inflated")
    phase("setup")
    if "hit" not in args.skip:
        log(
            args,
            f"hit path: {args.rounds} rounds x {args.batch} requests x {len(hitpath.MODES)} modes x 3 endpoints, "
            f"{len(rotation)} users",
        )
        hit = hitpath.measure(
            tokens=rotation,
            plan=hitpath.Plan(
                rounds=args.rounds, batch=args.batch, count_requests=args.count, profile_requests=args.profile
            ),
        )
        out["hit_path"] = hit.pop("endpoints")
        out["hit_path_meta"] = hit
        phase("hit_path")
    if "profile" not in args.skip:
        log(args, f"profiling {args.profile} hits of today and of content")
        out["profile"] = {}
        for endpoint in ("today", "content"):
            profile = hitpath.profile_hit(tokens=rotation, requests=args.profile, endpoint=endpoint)
            files = []
            for kind in ("pyinstrument", "cprofile"):
                if profile.get(kind):
                    path = args.results_dir / f"profile-hit-{endpoint}-{kind}.txt"
                    path.write_text(profile[kind])
                    files.append(str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path))
            out["profile"][endpoint] = {
                "requests": profile["requests"],
                "breakdown": profile["breakdown"],
                "top": profile["cprofile_top"],
                "files": files,
            }
        phase("profile")
    if "memory" not in args.skip:
        log(args, "memory per entry")
        from bench.views import FLOOR_BODIES

        memory = cachecost.memory(
            user_ids=list(rotation), bodies=FLOOR_BODIES, real_redis_url=private.url if private else None
        )
        out.update(memory)
        phase("memory")
    if "invalidation" not in args.skip:
        log(
            args,
            f"invalidation with {', '.join(f'{s:,}' for s in args.inv_sizes)} entries cached, {args.inv_reps} reps",
        )
        out.update(cachecost.invalidation(sizes=args.inv_sizes, reps=args.inv_reps))
        phase("invalidation")
    if "stats" not in args.skip:
        from bench import statsmiss

        log(args, f"stats miss with {', '.join(f'{rows:,}' for rows in args.stats_rows)} history rows")
        out.update(statsmiss.measure(histories=args.stats_rows))
        phase("stats_miss")
    if "outage" not in args.skip and args.outage_reads:
        _outage(args, out, dict(list(rotation.items())[:5]))
        phase("outage")
    connections.close_all()

    workload_redis = redis_url or (private.url if private else None)
    if "http" not in args.skip:
        _http(args, out, env, database, workload_redis, tokens, namespace)
        phase("http")
    if "workload" not in args.skip and workload_redis is None:
        log(args, "workload skipped: gunicorn's two workers need a shared Redis (REDIS_URL or redis-server)")
        out["workload_skipped"] = "no REDIS_URL and no redis-server binary"
    elif "workload" not in args.skip:
        workers, label = WORKERS, "real" if redis_url else "private redis-server (REDIS_URL unset)"
        users = workload.build_users(tokens)
        connections.close_all()
        out["workload_meta"] = {
            "workers": workers,
            "processes": args.processes,
            "connections": args.connections,
            "zipf_s": 1.1,
            "users": len(users),
            "warmup": args.warmup,
            "duration": args.duration,
            "redis": label,
            "mix": {kind: round(share, 3) for kind, share in args.mix},
            "gunicorn": "deploy/gunicorn.conf.py (gthread, 4 threads, max_requests 5000 +- 500, access log on)",
        }
        out["workload"] = {}
        for mode in args.modes:
            database.fresh_run_copy()
            if workload_redis:
                workload.clear_namespace(
                    workload_redis,
                    namespace,
                    (settings.REDIS_DB_THROTTLE, settings.REDIS_DB_CACHE, settings.REDIS_DB_REVOCATION),
                )
            log(args, f"workload {mode}: {args.warmup:g}s warm-up + {args.duration:g}s measured")
            out["workload"][mode] = _workload(args, env, database, users, mode=mode, redis_url=workload_redis)
            phase(f"workload_{mode}")
        if "cluster" not in args.skip:
            _cluster(args, out, env, database, rotation, users)
            phase("cluster")
        on, off = out["workload"].get("cache_on"), out["workload"].get("cache_off")
        if on and off and off["sql_queries_per_request"]:
            out["workload"]["sql_reduction_per_request"] = round(
                1 - on["sql_queries_per_request"] / off["sql_queries_per_request"], 4
            )
            out["workload"]["sql_reduction_per_min"] = round(
                1 - on["sql_queries_per_min"] / off["sql_queries_per_min"], 4
            )
            out["workload"]["rps_gain"] = round(on["rps"] / off["rps"], 3) if off["rps"] else None
        # Writes reach the database whatever the cache does: the best reduction a cache of reads
        # can give on this mix is what the reads' share of cache-off queries is.
        queries = off["sql_queries_by_endpoint"] if off else {}
        total = sum(queries.values())
        if total:
            out["workload"]["sql_reduction_bound"] = round(
                sum(queries[k] for k in ("today", "stats", "content")) / total, 4
            )
    return out


def _http(args, out: dict, env: dict, database, redis_url: str | None, tokens: dict, namespace: str) -> None:
    """The app servers side by side over HTTP: `"http"` in the results."""
    from django.conf import settings
    from django.db import connections

    from bench import served, workload

    why = served.available() or (None if redis_url else "no REDIS_URL and no redis-server binary")
    if why:
        log(args, f"servers over HTTP skipped: {why}")
        out["http_skipped"] = why
        return
    users = workload.build_users(tokens)
    rotation = [user for user in users if user["id"] in list(tokens)[: args.rotation]]
    connections.close_all()
    database.fresh_run_copy()
    workload.clear_namespace(
        redis_url, namespace, (settings.REDIS_DB_THROTTLE, settings.REDIS_DB_CACHE, settings.REDIS_DB_REVOCATION)
    )
    log(args, f"servers over HTTP: {', '.join(served.SERVERS)}, {args.http_rounds} rounds x {args.http_seconds:g}s")
    server_env = workload.gunicorn_env(env, database_url=database.url("run"), redis_url=redis_url, workers=2)
    server_env["DJANGO_SETTINGS_MODULE"] = "resee.settings"
    out["http"] = served.compare(
        env=server_env,
        users=users,
        rotation=rotation,
        rounds=args.http_rounds,
        seconds=args.http_seconds,
        work_dir=args.work_dir,
    )


def _cluster(args, out: dict, env: dict, database, rotation: dict, users: list) -> None:
    """The hit path (limit and hit) and the cache-on workload again, on a 3-master Redis Cluster
    of the bench's own: `hit_path_cluster` and `workload.cache_on_cluster`."""
    from bench import cluster, hitpath

    if not cluster.PrivateCluster.available():
        out["cluster_skipped"] = "no redis-server or redis-cli binary"
        return
    log(args, f"Redis Cluster of {cluster.MASTERS} masters: hit path ({', '.join(cluster.MODES)}) and workload")
    servers = cluster.PrivateCluster(args.work_dir)
    try:
        plan = hitpath.Plan(rounds=args.rounds, batch=args.batch, count_requests=args.count, profile_requests=0)
        out["hit_path_cluster"] = cluster.hit_path(cluster=servers, tokens=rotation, plan=plan)["endpoints"]
        database.fresh_run_copy()
        out["workload"]["cache_on_cluster"] = _workload(
            args, env, database, users, mode="cache_on", redis_url=servers.url, redis_mode="cluster"
        )
    finally:
        servers.stop()


def _workload(args, env, database, users, *, mode: str, redis_url: str, redis_mode: str = "standalone") -> dict:
    """One measured workload run on gunicorn's two workers."""
    from bench import workload

    gunicorn_env = workload.gunicorn_env(
        env, database_url=database.url("run"), redis_url=redis_url, workers=WORKERS, redis_mode=redis_mode
    )
    return workload.run(
        mode=mode,
        env=gunicorn_env,
        users=users,
        redis_url=redis_url,
        xact=database.xact_count,
        warmup=args.warmup,
        duration=args.duration,
        processes=args.processes,
        connections=args.connections,
        work_dir=args.work_dir,
        seed=7,
        mix=args.mix,
    )


def _git_state() -> dict:
    import subprocess

    def git(*argv):
        try:
            return subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.TimeoutExpired):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain").splitlines() if len(line) > 3]
    ours = ("bench/", "tests/bench/", "Makefile", "requirements-bench.txt", ".gitignore", "README.md")
    app = [path for path in changed if not path.startswith(ours)]
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(changed),
        "uncommitted_app_files": app,
    }


def _cleanup(args, env, database, redis_url, private, namespace) -> None:
    try:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
            _clear(env, redis_url, namespace)
    except Exception as exc:  # cleanup must not hide the real error
        log(args, f"cleanup: could not clear the namespace: {exc}")
    try:
        database.drop_run()
        if args.drop_template:
            database.drop_template()
    except Exception as exc:
        log(args, f"cleanup: could not drop the bench database: {exc}")
    if private:
        private.stop()
