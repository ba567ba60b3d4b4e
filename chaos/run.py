"""A chaos run from start to end: its servers up, the learners' processes and the faults going,
everything stopped in finally blocks, then the history checked and reported."""

import multiprocessing
import os
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import asdict
from pathlib import Path

from chaos import checker, learners, report
from chaos.faults import KINDS, Faults
from chaos.servers import REPO, App, ClusterRedis, FaultyProxy, Postgres, Redis, SentinelRedis

MUTANTS = REPO / "chaos" / "mutants"


def redis_env(redis, proxy: FaultyProxy | None) -> dict:
    if isinstance(redis, SentinelRedis):
        return {"REDIS_MODE": "sentinel", "REDIS_SENTINELS": redis.addresses, "REDIS_SENTINEL_MASTER": redis.NAME}
    if isinstance(redis, ClusterRedis):
        return {"REDIS_MODE": "cluster", "REDIS_URL": redis.url}
    return {"REDIS_MODE": "standalone", "REDIS_URL": f"redis://127.0.0.1:{proxy.port}"}


def redis_servers(mode: str, work: Path, seed: int):
    if mode == "sentinel":
        return SentinelRedis(work)
    if mode == "cluster":
        return ClusterRedis(work, seed)
    return Redis(work / "redis")


def app_env(pg: Postgres, redis: dict, mutant: str | None) -> dict:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_", "CACHE_"))},
        "DJANGO_SETTINGS_MODULE": "resee.settings",
        "DATABASE_URL": pg.url,
        **redis,
        "REDIS_KEY_NAMESPACE": "chaos",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "DEBUG": "0",
        # Note: every learner signs in from 127.0.0.1; the per-IP limits would be all the run measured.
        "THROTTLE_ANON_RATE": "1000000/min",
        "THROTTLE_USER_RATE": "1000000/min",
        "THROTTLE_AUTH_RATE": "1000000/min",
        "JOBS_IN_PROCESS": "1",  # no imports in the mix: no broker needed
        "WEB_ACCESS_LOG": "0",
        "LOG_LEVEL": "WARNING",
    }
    if mutant:
        # Note: the mutant is loaded by the served processes only, through sitecustomize on their
        # path: production code carries no hook for it.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(MUTANTS), env.get("PYTHONPATH", "")]))
        env["CHAOS_MUTANT"] = mutant
    return env


def endpoint_exists(port: int, path: str) -> bool:
    """Whether the app routes `path` (an anonymous call: 401 when it does, 404 when it does not)."""
    http = learners.Http(port)
    try:
        return http.send("POST", path, {}, None)[0] != 404
    finally:
        http.close()


def rerun_options(given: dict) -> str:
    """The command-line options that repeat a run (python -m chaos ...)."""
    names = ("seed", "operations", "clients", "users", "redis_mode", "rounds")
    options = [f"--{name.replace('_', '-')} {given[name]}" for name in names]
    options.append(f"--faults '{','.join(given['fault_kinds'])}'")
    return " ".join(options + ([f"--mutant {given['mutant']}"] if given["mutant"] else []))


def run(*, seed: int, operations: int, clients: int, users: int, out: Path, fault_kinds=KINDS, rounds: int = 2,
        mutant: str | None = None, redis_mode: str = "standalone", hold=(1.5, 3.5),
        gap=(1.5, 3.0)) -> dict:  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("history-*.jsonl"):
        old.unlink()
    work = Path(tempfile.mkdtemp(prefix="resee-chaos-"))
    # Note: the learners' day is UTC's from midnight (chaos.learners.day_hours); past its end,
    # completed cards are due again and the checker leaves day-bound facts alone.
    day_ends = time.monotonic() + (86400 - time.time() % 86400)
    pg, proxy, app = Postgres(work), None, None
    redis = redis_servers(redis_mode, work, seed)
    procs: list[multiprocessing.Process] = []
    faults = None
    try:
        pg.init()
        redis.start_all()
        proxy = FaultyProxy(redis.port) if redis_mode == "standalone" else None
        app = App(work, app_env(pg, redis_env(redis, proxy), mutant))
        app.manage("migrate", "--noinput")
        app.start()
        faults = Faults((pg, redis, proxy, app), seed, kinds=fault_kinds, rounds=rounds, hold=hold, gap=gap)
        kinds = [k for k in learners.OPERATIONS if k != "undo" or endpoint_exists(app.port, "/api/review/undo/")]
        ctx = multiprocessing.get_context("spawn")
        ready, go, faults_done = ctx.Semaphore(0), ctx.Event(), ctx.Event()
        per_client = max(1, operations // clients)
        for index in range(clients):
            args = (index, app.port, seed, users, per_client, str(out), kinds, ready, go, faults_done)
            procs.append(ctx.Process(target=learners.run_client, args=args, daemon=True))
        for proc in procs:
            proc.start()
        for _ in procs:
            if not ready.acquire(timeout=120):
                raise RuntimeError("the learners did not finish setting up in 120 s")
        started = time.monotonic()
        thread = threading.Thread(target=faults.run, name="faults", daemon=True)
        thread.start()
        go.set()
        while not faults.mandatory_done.wait(0.5):
            if not thread.is_alive():  # a fault that failed: its traceback is above
                raise RuntimeError("the faults stopped before every kind had run")
        faults_done.set()
        for proc in procs:
            proc.join()
        faults.stopping.set()
        thread.join(timeout=60)
        ended = time.monotonic()
        time.sleep(1)  # on-commit work of the last requests
        end_state = checker.database_state(pg.url)
    finally:
        if faults is not None:
            faults.stopping.set()
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for server in (app, proxy):
            if server is not None:
                server.stop()
        redis.stop_all()
        pg.stop("immediate")
        for log in (work / "app.log", work / "postgres.log", *work.glob("sentinel*.log")):
            if log.exists():
                shutil.copy(log, out / log.name)
        shutil.rmtree(work, ignore_errors=True)
    history = checker.load_history(out)
    fault_log = [asdict(fault) for fault in faults.log]
    result = checker.check(history, fault_log, end_state, day_ends)
    summary = report.write(out, seed=seed, clients=clients, history=history, faults=fault_log, result=result,
                           seconds=ended - started, mutant=mutant, redis_mode=redis_mode,
                           rerun=rerun_options(locals()))  # fmt: skip
    return summary
