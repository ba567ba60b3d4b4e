"""The workload over HTTP: gunicorn as deployed (deploy/gunicorn.conf.py: gthread, 2 workers x 4
threads, access log, max_requests) on a free 127.0.0.1 port, driven by bench/loadgen.py.

One run per mode, cache off (CACHE_ENABLED=0) then on, each on a fresh copy of the seeded
database and an empty cache namespace: prefill (every user's today once: loads the revocation
hashes, fills today's entries when the cache is on), warm-up with the mix, then the measured
window. Read at both ends of the window:

- SQL statements: bench/wsgi.py's per-worker counters (by endpoint), and, on PostgreSQL, the
  database's own transaction count (pg_stat_database.xact_commit + xact_rollback);
- Redis INFO keyspace_hits / keyspace_misses of the server the workers use (server-wide: it
  also counts throttle and revocation lookups, and any other client of a shared server);
- the hit rate from X-Cache headers counted by the client (/metrics is per worker under gunicorn
  without multiprocess mode, so it cannot give the total).
"""

import multiprocessing
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import redis
from redis.cluster import RedisCluster

from bench import loadgen
from bench.loadgen import percentile
from bench.sqlcount import SLOTS, read_counters

REPO = Path(__file__).resolve().parent.parent
CACHED = ("today", "stats", "content")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrivateRedis:
    """A redis-server of the bench's own on a free loopback port (no persistence), for when
    REDIS_URL is unset: fakeredis lives inside one process, and gunicorn runs two."""

    def __init__(self, work_dir: Path, *extra_args: str):
        self.dir = Path(tempfile.mkdtemp(prefix="redis-", dir=work_dir))
        self.port = free_port()
        self.extra_args = extra_args
        self.start()

    def start(self) -> None:
        """(Re)start on the same port, empty."""
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
                "--protected-mode",
                "yes",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("the private redis-server did not start")
        self.version = client.info("server")["redis_version"]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown; clients see their connections drop."""
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None


def clear_stale_namespaces(url: str, family: str, dbs) -> int:
    """Keys of earlier bench runs (`<family>-<pid>:...`) whose process is gone."""
    deleted = 0
    for db in sorted(set(dbs)):
        client = redis.Redis.from_url(url, db=db)
        stale = []
        for key in client.scan_iter(match=f"{family}-*", count=1000):
            head = key.decode(errors="replace").split(":", 1)[0].removeprefix(f"{family}-")
            if head.isdigit() and not _alive(int(head)):
                stale.append(key)
        for start in range(0, len(stale), 1000):
            deleted += client.unlink(*stale[start : start + 1000])
    return deleted


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_namespace(url: str, namespace: str, dbs) -> int:
    """Delete this bench's keys (`<namespace>:*`) in the given databases: SCAN + UNLINK, never a flush."""
    deleted = 0
    for db in sorted(set(dbs)):
        client = redis.Redis.from_url(url, db=db)
        batch = []
        for key in client.scan_iter(match=f"{namespace}:*", count=1000):
            batch.append(key)
            if len(batch) >= 1000:
                deleted += client.unlink(*batch)
                batch = []
        if batch:
            deleted += client.unlink(*batch)
    return deleted


def build_users(tokens: dict[int, str]) -> list[dict]:
    """Per user (in id order, i.e. Zipf rank): token, content ids, and the today / content-list
    queries whose pages exist (20 per page unfiltered, 5 per page within a category)."""
    from django.db.models import Count

    from content.models import Content

    ids, counts = {}, {}
    for owner, content_id in Content.objects.filter(owner_id__in=tokens).values_list("owner_id", "id"):
        ids.setdefault(owner, []).append(content_id)
    for row in Content.objects.filter(owner_id__in=tokens).values("owner_id", "category__slug").annotate(n=Count("id")):
        counts.setdefault(row["owner_id"], {})[row["category__slug"]] = row["n"]
    users = []
    for user_id in sorted(tokens):
        per_category = counts.get(user_id, {})
        total = sum(per_category.values())
        slugs = sorted(slug for slug in per_category if slug)
        content_queries = [f"?page={page}" for page in (1, 2, 3) if page == 1 or (page - 1) * 20 < total]
        content_queries += [
            f"?category_slug={slug}&page={page}&page_size=5"
            for slug in slugs
            for page in (1, 2, 3)
            if (page - 1) * 5 < per_category[slug]
        ]
        users.append(
            {
                "id": user_id,
                "token": tokens[user_id],
                "contents": ids.get(user_id, []),
                # 70% unfiltered, 30% one of the user's categories
                "today_queries": [""] * max(1, round(len(slugs) * 7 / 3)) + [f"?category_slug={s}" for s in slugs],
                "content_queries": content_queries,
            }
        )
    return [user for user in users if user["contents"]]


class Gunicorn:
    def __init__(self, env: dict, log_path: Path):
        self.port = free_port()
        self.counter_dir = tempfile.mkdtemp(prefix="sql-", dir=log_path.parent)
        self.log = open(log_path, "wb")  # noqa: SIM115
        env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port), "BENCH_COUNTER_DIR": self.counter_dir}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "deploy/gunicorn.conf.py",
                # Note: gunicorn 27 otherwise takes over ~/.gunicorn/gunicorn.ctl, shared with any other
                # gunicorn of this user (make run, a concurrent test); the bench needs no control socket.
                "--no-control-socket",
                "bench.wsgi:application",
            ],
            cwd=REPO,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.log_path = log_path

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.log_tail()}")
            connection = loadgen.Connection("127.0.0.1", self.port, timeout=5)
            try:
                status, _, _ = connection.request(b"GET /api/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                if status == 200:
                    return
            except (loadgen.ConnectionLost, OSError):
                pass
            finally:
                connection.close()
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer /api/health/ in {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL: no shutdown; clients see their connections drop."""
        self.process.kill()
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.log.close()
        shutil.rmtree(self.counter_dir, ignore_errors=True)


def _processes() -> dict[int, tuple[int, str, int]]:
    """pid -> (CPU ticks used, command name, parent pid), from /proc (Linux)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        table[int(entry)] = (int(fields[11]) + int(fields[12]), name, int(fields[1]))
    return table


def background_cpu(seconds: float = 1.0) -> dict:
    """Cores busy in processes that are not this bench's, over `seconds`: a machine that is not
    idle inflates every figure, so the report says so."""
    ours = {os.getpid()}
    before = _processes()
    time.sleep(seconds)
    after = _processes()
    hertz = os.sysconf("SC_CLK_TCK")
    busy = Counter()
    for pid, (ticks, name, parent) in after.items():
        if pid in ours or parent in ours:
            continue
        used = ticks - before.get(pid, (0, "", 0))[0]
        if used > 0:
            busy[f"{name}({pid})"] += used / hertz / seconds
    return {"cores": round(sum(busy.values()), 2), "top": {k: round(v, 2) for k, v in busy.most_common(3)}}


def _busy_ticks() -> tuple[int, int]:
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _cpu_by_role(before: dict, after: dict, seconds: float, master: int, load_pids: set[int]) -> dict:
    """CPU cores used during the window, by role: PostgreSQL, Redis, the load generator (it shares
    the machine), and everything else; the caller replaces `gunicorn` by the workers' own account,
    since /proc loses a worker recycled by max_requests during the window."""
    hertz = os.sysconf("SC_CLK_TCK")
    roles, others = Counter(), Counter()
    for pid, (ticks, name, parent) in after["processes"].items():
        used = ticks - before["processes"].get(pid, (0, "", 0))[0]
        if used <= 0:
            continue
        if pid == master or parent == master:
            role = "gunicorn"
        elif pid in load_pids:
            role = "load_generator"
        elif name.startswith("postgres"):
            role = "postgresql"
        elif name.startswith("redis-server"):
            role = "redis"
        elif pid == os.getpid():
            role = "bench_process"
        else:
            role = "other"
            others[f"{name}({pid}, parent {parent})"] += used / hertz / seconds
        roles[role] += used / hertz / seconds
    busy = (after["busy"][0] - before["busy"][0]) / max(1, after["busy"][1] - before["busy"][1])
    out = {role: round(value, 2) for role, value in sorted(roles.items())}
    out["machine_busy_share"] = round(busy, 3)
    out["other_top"] = {name: round(value, 2) for name, value in others.most_common(3)}
    return out


def _snapshot(gunicorn: Gunicorn, redis_url: str, xact) -> dict:
    info = _stats(redis_url)
    return {
        "at": time.monotonic(),
        "processes": _processes(),
        "busy": _busy_ticks(),
        "sql": read_counters(gunicorn.counter_dir),
        "xact": xact(),
        "keyspace_hits": info["keyspace_hits"],
        "keyspace_misses": info["keyspace_misses"],
    }


def _stats(redis_url: str) -> dict:
    """INFO stats of the server, or of every master added up when it is a cluster node."""
    node = redis.Redis.from_url(redis_url)
    if not node.info("cluster").get("cluster_enabled"):
        return node.info("stats")
    cluster = RedisCluster.from_url(redis_url)
    try:
        by_node = cluster.info("stats", target_nodes=RedisCluster.PRIMARIES)
    finally:
        cluster.close()
    return {field: sum(stats[field] for stats in by_node.values()) for field in ("keyspace_hits", "keyspace_misses")}


def run(
    *,
    mode: str,
    env: dict,
    users: list[dict],
    redis_url: str,
    xact,
    warmup: float,
    duration: float,
    processes: int,
    connections: int,
    work_dir: Path,
    seed: int,
    zipf_s: float = 1.1,
    mix=loadgen.MIX,
) -> dict:
    """One measured run; `env` is the gunicorn environment (DATABASE_URL, REDIS_URL, ...)."""
    env = {**env, "CACHE_ENABLED": "1" if mode == "cache_on" else "0", "DJANGO_SETTINGS_MODULE": "resee.settings"}
    server = Gunicorn(env, work_dir / f"gunicorn-{mode}.log")
    try:
        boot_started = time.monotonic()
        server.wait_ready()
        boot_seconds = time.monotonic() - boot_started
        plan = {
            "host": "127.0.0.1",
            "port": server.port,
            "host_header": f"127.0.0.1:{server.port}",
            "users": users,
            "zipf_s": zipf_s,
            "connections": connections,
            "seed": seed,
            "mix": mix,
        }
        prefill = loadgen.prefill(plan, ["/api/review/today/"])
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        start = time.monotonic() + 0.5  # the processes' start-up, before any deadline
        measure_from, until = start + warmup, start + warmup + duration
        workers = [
            context.Process(target=loadgen.process_main, args=(plan, i, measure_from, until, out), daemon=True)
            for i in range(processes)
        ]
        for worker in workers:
            worker.start()
        time.sleep(max(0.0, measure_from - time.monotonic()))
        before = _snapshot(server, redis_url, xact)
        time.sleep(max(0.0, until - time.monotonic()))
        after = _snapshot(server, redis_url, xact)
        parts = [out.get(timeout=duration + 60) for _ in workers]
        for worker in workers:
            worker.join(10)
            if worker.is_alive():
                worker.terminate()
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn died during the run:\n{server.log_tail()}")
    finally:
        server.stop()
    seconds = after["at"] - before["at"]
    cpu = _cpu_by_role(before, after, seconds, server.process.pid, {worker.pid for worker in workers})
    # The workers' own account (bench/wsgi.py): it includes workers recycled during the window,
    # whose /proc entry is gone by its end.
    worker_ns = sum(ns - before["sql"]["cpu_ns"].get(pid, 0) for pid, ns in after["sql"]["cpu_ns"].items())
    cpu["gunicorn"] = round(worker_ns / 1e9 / seconds, 2)
    # Busy time no process snapshot explains: processes born and gone within the window (another
    # user's short-lived jobs, a recycled worker's boot before its first request).
    accounted = sum(v for k, v in cpu.items() if k not in ("machine_busy_share", "other_top"))
    cpu["unaccounted"] = round(max(0.0, cpu["machine_busy_share"] * nproc() - accounted), 2)
    result = _summarise(mode, parts, before, after, prefill, boot_seconds, len(users))
    result["cpu_cores"] = cpu
    if result["server_requests"]:
        result["gunicorn_cpu_ms_per_request"] = round(cpu["gunicorn"] * seconds / result["server_requests"] * 1000, 2)
    if mode == "cache_on":
        simulated = max(20000, result["requests"])
        result["ideal_hit_rate"] = loadgen.ideal_hit_rate(users, zipf_s, simulated, seed, mix=mix)
        # The bounds of the layouts before: the policy before the table (a content edit bumped all
        # three) with an entry per variant; the table with an entry per variant; shared entries
        # without refresh on write.
        result["ideal_hit_rate_coarse_policy"] = loadgen.ideal_hit_rate(
            users, zipf_s, simulated, seed, loadgen.COARSE_INVALIDATES, mix, shared=(), refresh=False
        )
        result["ideal_hit_rate_per_variant"] = loadgen.ideal_hit_rate(
            users, zipf_s, simulated, seed, None, mix, shared=(), refresh=False
        )
        result["ideal_hit_rate_no_refresh"] = loadgen.ideal_hit_rate(
            users, zipf_s, simulated, seed, mix=mix, refresh=False
        )
    return result


def _summarise(mode, parts, before, after, prefill, boot_seconds, users) -> dict:
    seconds = after["at"] - before["at"]
    latency = {kind: [] for kind, _ in loadgen.MIX}
    status = {kind: Counter() for kind, _ in loadgen.MIX}
    x_cache = {kind: Counter() for kind, _ in loadgen.MIX}
    errors, error_samples = Counter(), []
    for part in parts:
        for kind in latency:
            latency[kind] += part["latency_us"][kind]
            status[kind].update({int(k): v for k, v in part["status"][kind].items()})
            x_cache[kind].update(part["x_cache"][kind])
        errors.update(part["errors"])
        error_samples += part["error_samples"]
    every = [value for values in latency.values() for value in values]
    requests = len(every)
    cached_results = Counter()
    for kind in CACHED:
        cached_results += x_cache[kind]
    looked_up = sum(cached_results.values())
    queries = {slot: after["sql"]["queries"][slot] - before["sql"]["queries"][slot] for slot in SLOTS}
    served = {slot: after["sql"]["requests"][slot] - before["sql"]["requests"][slot] for slot in SLOTS}
    total_queries, total_served = sum(queries.values()), sum(served.values())
    hits = after["keyspace_hits"] - before["keyspace_hits"]
    misses = after["keyspace_misses"] - before["keyspace_misses"]
    workers_seen = sorted(set(after["sql"]["workers"]))
    result = {
        "seconds": round(seconds, 2),
        "requests": requests,
        "rps": round(requests / seconds, 1),
        "hit_rate": round(cached_results.get("HIT", 0) / looked_up, 4) if looked_up else 0.0,
        "x_cache": dict(cached_results),
        "x_cache_by_endpoint": {kind: dict(x_cache[kind]) for kind in CACHED},
        "redis_keyspace_hit_rate": round(hits / (hits + misses), 4) if hits + misses else None,
        "redis_keyspace": {"hits": hits, "misses": misses},
        "sql_queries_per_min": round(total_queries / seconds * 60),
        "sql_queries_per_request": round(total_queries / total_served, 3) if total_served else None,
        "sql_queries_by_endpoint": queries,
        "server_requests_by_endpoint": served,
        "sql_queries_per_request_by_endpoint": {
            slot: round(queries[slot] / served[slot], 3) for slot in SLOTS if served[slot]
        },
        "pg_xact_per_min": (
            round((after["xact"] - before["xact"]) / seconds * 60) if after["xact"] is not None else None
        ),
        "p50_ms": round(statistics.median(every) / 1000, 2) if every else None,
        "p95_ms": round(percentile(every, 95) / 1000, 2) if every else None,
        "p99_ms": round(percentile(every, 99) / 1000, 2) if every else None,
        "endpoints": {
            kind: {
                "requests": len(values),
                "share": round(len(values) / requests, 3) if requests else 0,
                "p50_ms": round(statistics.median(values) / 1000, 2) if values else None,
                "p95_ms": round(percentile(values, 95) / 1000, 2) if values else None,
                "p99_ms": round(percentile(values, 99) / 1000, 2) if values else None,
                "status": {str(k): v for k, v in sorted(status[kind].items())},
            }
            for kind, values in latency.items()
        },
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "error_samples": error_samples[:5],
        "server_requests": total_served,
        "worker_processes_seen": len(workers_seen),
        "warmup_requests": sum(part["warmup_requests"] for part in parts),
        "prefill_status": {str(k): v for k, v in prefill.items()},
        "boot_seconds": round(boot_seconds, 2),
        "users": users,
    }
    return result


def gunicorn_env(
    base: dict, *, database_url: str, redis_url: str | None, workers: int, redis_mode: str = "standalone"
) -> dict:
    env = {**base, "DATABASE_URL": database_url, "WEB_CONCURRENCY": str(workers), "REDIS_MODE": redis_mode}
    if redis_url:
        env["REDIS_URL"] = redis_url
    else:
        env.pop("REDIS_URL", None)
    return env


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def nproc() -> int:
    return len(os.sched_getaffinity(0))
