"""The parts of a run, in order; each writes its results into `run.out` and is timed as a phase.

- hit / profile: the in-process hit path against its floor and limit, and where a hit's time goes;
- invalidation: what a write costs the cache, against the entries cached;
- outage: reads while the bench's own Redis is paused, blackholed or killed;
- http: the app servers side by side over HTTP (bench.served.compare);
- workload: the deployed server, cache off then on (bench.served.workload);
- revlog: the import job of an Anki package with its review log, end to end, in reviews per second.
"""

import os
import time
from datetime import UTC, datetime, timedelta

from bench import run as bench_run
from bench.run import log


def measure(run, seeding: dict) -> None:
    args, out = run.args, run.out
    bench_run.setup_django(run.env, run.database.url("run"))
    from django.conf import settings

    from bench import procs

    out["machine"] = bench_run.machine(run)
    out["config"] = {"users": args.users, "contents": args.contents, "seed_day": run.database.seed_day,
                     "template_seeded_seconds": seeding["seconds"] if seeding["seeded"] else None,
                     "redis_key_namespace": run.namespace}  # fmt: skip
    if run.redis_url:
        dbs_used = (settings.REDIS_DB_THROTTLE, settings.REDIS_DB_CACHE, settings.REDIS_DB_REVOCATION)
        procs.clear_stale_namespaces(run.redis_url, bench_run.NAMESPACE_FAMILY, dbs_used)
    run.clear()
    run.tokens = _tokens()
    # Note: ladder learners: a new template's FSRS cards come due for minutes, ending their entries.
    ladder = _bench_users().filter(learner__scheduler="ladder").values_list("id", flat=True)[: args.rotation]
    run.rotation = {user: run.tokens[user] for user in ladder}
    if os.getloadavg()[0] > 0.5:
        log(args, f"warning: the machine is busy (load average {os.getloadavg()}); figures will be inflated")
    run.phase("setup")
    for name, part in (("hit", hit), ("profile", profile), ("invalidation", invalidation),
                       ("outage", outage), ("http", http), ("workload", workload), ("revlog", revlog)):  # fmt: skip
        if name not in args.skip:
            part(run)
            run.phase(name)


def hit(run) -> None:
    from bench import hitpath

    args = run.args
    log(args, f"hit path: {args.rounds} rounds x {args.batch} requests x {len(hitpath.MODES)} modes x 3 endpoints")
    plan = hitpath.Plan(rounds=args.rounds, batch=args.batch, count_requests=args.count)
    run.out["hit_path_meta"] = result = hitpath.measure(tokens=run.rotation, plan=plan)
    run.out["hit_path"] = result.pop("endpoints")


def profile(run) -> None:
    from bench import hitpath

    args = run.args
    log(args, f"profiling {args.profile} hits of today and of content")
    run.out["profile"] = {}
    for endpoint in ("today", "content"):
        result = hitpath.profile_hit(tokens=run.rotation, requests=args.profile, endpoint=endpoint)
        files = []
        for kind in ("pyinstrument", "cprofile"):
            if result.get(kind):
                path = args.results_dir / f"profile-hit-{endpoint}-{kind}.txt"
                path.write_text(result[kind])
                files.append(str(path.relative_to(bench_run.REPO) if path.is_relative_to(bench_run.REPO) else path))
        run.out["profile"][endpoint] = {"requests": args.profile, "breakdown": result["breakdown"], "files": files}


def invalidation(run) -> None:
    from bench import cachecost

    args = run.args
    log(args, f"invalidation with {', '.join(f'{s:,}' for s in args.inv_sizes)} entries cached, {args.inv_reps} reps")
    user, token = next(iter(run.rotation.items()))
    run.out.update(cachecost.invalidation(sizes=args.inv_sizes, reps=args.inv_reps, user=user, token=token))


def outage(run) -> None:
    from bench import outage as faults
    from bench.procs import PrivateRedis

    args = run.args
    if not args.outage_reads:
        return
    if not PrivateRedis.available():
        run.out["outage_skipped"] = "no redis-server binary"
        return
    log(args, f"Redis outage: {', '.join(faults.FAULTS)}, {args.outage_reads} reads each")
    tokens = dict(list(run.rotation.items())[:5])
    run.out["outage"] = faults.measure(
        tokens=tokens, revoked=_revoked_token(), work_dir=args.work_dir, reads=args.outage_reads
    )


def http(run) -> None:
    from bench import served

    args = run.args
    if why := _cannot_serve(run, "http_skipped"):
        return log(args, f"servers over HTTP skipped: {why}")
    users = _fresh_start(run)
    rotation = [user for user in users if user["id"] in run.rotation]
    log(args, f"servers over HTTP: {', '.join(served.SERVERS)}, {args.http_rounds} rounds x {args.http_seconds:g}s")
    run.out["http"] = served.compare(
        env=_server_env(run), users=users, rotation=rotation, rounds=args.http_rounds, seconds=args.http_seconds,
        work_dir=args.work_dir,
    )  # fmt: skip


def workload(run) -> None:
    from bench import served

    args = run.args
    if why := _cannot_serve(run, "workload_skipped"):
        return log(args, f"workload skipped: {why}")
    run.out["workload_meta"] = {
        "server": served.DEPLOYED, "workers": served.WORKERS, "connections": 8, "zipf_s": 1.1, "mix": served.MIX,
        "warmup": args.warmup, "duration": args.duration, "users": len(run.tokens), "learners": _learners(run),
    }  # fmt: skip
    run.out["workload"] = modes = {}
    for mode in ("cache_off", "cache_on"):
        users = _fresh_start(run)
        log(args, f"workload {mode}: {args.warmup:g}s warm-up + {args.duration:g}s measured")
        modes[mode] = served.workload(
            env=_server_env(run), users=users, mode=mode, warmup=args.warmup, seconds=args.duration,
            work_dir=args.work_dir,
        )  # fmt: skip
    on, off = modes["cache_on"], modes["cache_off"]
    if off["sql_queries_per_request"]:
        ratio = on["sql_queries_per_request"] / off["sql_queries_per_request"]
        modes["sql_reduction_per_request"] = round(1 - ratio, 4)
        modes["rps_gain"] = round(on["rps"] / off["rps"], 3)


def revlog(run) -> None:
    from django.contrib.auth import get_user_model

    from decks import services, writers
    from decks.models import ImportJob
    from decks.readers import Answer

    args, start = run.args, datetime(2024, 1, 1, tzinfo=UTC)
    log(args, f"import of an Anki package of {args.revlog_reviews:,} reviews (its file written by our export)")
    history = [tuple(Answer(start + timedelta(days=i, seconds=n), 1 + (n + i) % 4, 8) for i in range(10))
               for n in range(args.revlog_reviews // 10)]  # fmt: skip
    path = args.work_dir / "revlog.apkg"
    writers.write_apkg((writers.Card(f"card {n}", "", None, None, h) for n, h in enumerate(history)), path=str(path))
    user = get_user_model().objects.create_user(username=f"revlog-{time.time_ns()}")
    job = ImportJob.objects.create(owner=user, filename=path.name, format="apkg", upload=path.read_bytes(),
                                   total=len(history))  # fmt: skip
    began = time.perf_counter()
    services.import_run(job_id=str(job.pk))
    seconds, job = time.perf_counter() - began, ImportJob.objects.get(pk=job.pk)
    run.out["revlog_import"] = {"state": job.state, "cards": job.created, "reviews": job.reviews,
                                "seconds": round(seconds, 2), "per_second": round(job.reviews / seconds)}  # fmt: skip


def _learners(run) -> dict:
    """The users' days, limits and schedulers (seed_demo spreads them): the hit rate is measured
    across them."""
    from accounts.models import Learner

    learners = Learner.objects.filter(user_id__in=run.tokens)
    rows = learners.values_list("time_zone", "day_starts_at_hour", "reviews_per_day", "scheduler")
    zones, hours, limits, schedulers = list(zip(*rows, strict=True)) or [[], [], [], []]
    return {"zones": sorted(set(zones)), "day_start_hours": sorted(set(hours)), "reviews_per_day": sorted(set(limits)),
            "schedulers": {name: schedulers.count(name) for name in sorted(set(schedulers))}}  # fmt: skip


def _cannot_serve(run, key: str) -> str | None:
    from bench import served

    why = served.available() or (None if run.shared_redis else "no REDIS_URL and no redis-server binary")
    if why:
        run.out[key] = why
    return why


def _fresh_start(run) -> list[dict]:
    """A fresh copy of the seeded database, this run's keys gone, and the users as the load needs them."""
    from django.db import connections

    from bench.procs import build_users

    users = build_users(run.tokens)
    connections.close_all()
    run.database.fresh_run_copy()
    run.clear(run.shared_redis)
    return users


def _server_env(run) -> dict:
    return {**run.env, "DATABASE_URL": run.database.url("run"), "REDIS_URL": run.shared_redis,
            "REDIS_MODE": "standalone", "DJANGO_SETTINGS_MODULE": "resee.settings"}  # fmt: skip


def _bench_users():
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(username__startswith="bench-").order_by("id")


def _tokens() -> dict[int, str]:
    from rest_framework_simplejwt.tokens import AccessToken

    return {user.id: str(AccessToken.for_user(user)) for user in _bench_users()}


def _revoked_token() -> str:
    """A new access token of a bench user, logged out."""
    from rest_framework_simplejwt.tokens import AccessToken

    from accounts.services import user_logout

    user = _bench_users().first()
    user_logout(user_id=user.id, access=(token := AccessToken.for_user(user)))
    return str(token)
