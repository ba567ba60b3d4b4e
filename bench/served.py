"""Requests over HTTP, as users meet them: the app servers side by side, and the workload.

Each server runs the app unchanged (resee.wsgi, production settings) with 2 workers on a free
127.0.0.1 port, on the bench's database and a Redis its workers share. The load comes from Debian's
`wrk` (C, event loop: it takes far less CPU per request than the Python servers it drives) with
bench/wrk.lua, which replays a file of requests this module writes:

- `compare`: every server started at once, then rounds, each server in turn (the order rotated
  per round): served today hits (every rotation user's today list, cached), a 404 (the routing
  and middleware floor, no auth), and the mixed workload; medians of the rounds, with the spread.
  CPU per request is the server's processes' CPU time from /proc over the run (the master's
  reaped children included, so a worker recycled mid-run still counts) / requests answered.
- `workload`: the deployed server alone, cache off then on, each on a fresh copy of the database
  and an empty namespace: warm-up, then the measured window, with the SQL statements, requests
  and cache results read from /metrics (every worker added up) at both ends. Each of wrk's two
  threads replays one scheduler's learners (ladder, FSRS): X-Cache is counted per scheduler too.
"""

import json
import os
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).with_name("wrk.lua")
PY = sys.executable
APP = "resee.wsgi:application"
SERVERS = {  # {port} and {workers} filled in per run; the deployed one reads them from the environment
    # Note: no control socket, or gunicorn 27 shares ~/.gunicorn/gunicorn.ctl with the user's other ones.
    "gunicorn-gthread": [PY, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--no-control-socket", APP],
    "gunicorn-sync": [PY, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--no-control-socket", "-k", "sync", APP],
    "granian": [PY, "-m", "granian", "--interface", "wsgi", "--host", "127.0.0.1", "--port", "{port}",
                "--workers", "{workers}", "--blocking-threads", "4", "--access-log", APP],
    "uwsgi": [PY, "-m", "resee.serve"],
}  # fmt: skip
BASELINE, DEPLOYED = "gunicorn-gthread", "uwsgi"
WORKERS = 2
MIX = {"today": 0.55, "content": 0.20, "stats": 0.15, "complete": 0.05, "edit": 0.05}
RESULTS = ("good",) * 6 + ("hard",) * 2 + ("again",)  # as the ladder had them: no `easy`
SCHEDULERS = ("ladder", "fsrs")


def available() -> str | None:
    """Why the HTTP parts cannot run here, or None."""
    return None if shutil.which("wrk") else "no wrk binary (apt-get install wrk)"


class Server:
    """One app server on a free loopback port, in a session of its own."""

    def __init__(self, name: str, env: dict, work_dir: Path):
        from bench.procs import free_port

        self.name, self.port = name, free_port()
        self.metrics_dir = tempfile.mkdtemp(prefix=f"prometheus-{name}-", dir=work_dir)
        self.log_path = work_dir / f"{name}.log"
        env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(WORKERS)}
        env["PROMETHEUS_MULTIPROC_DIR"] = self.metrics_dir
        command = [part.format(port=self.port, workers=WORKERS) for part in SERVERS[name]]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_ready(self, timeout: float = 90.0) -> "Server":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.url("/api/health/"), timeout=5) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer /api/health/:\n{self.log_tail()}")

    def wait_idle(self, timeout: float = 60.0) -> None:
        """Until no client connection is open: requests wrk left in flight would slow the next run."""
        port, deadline = f":{self.port:04X}", time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = [line.split() for table in ("tcp", "tcp6") for line in Path(f"/proc/net/{table}").open()]
            if not any(row[1].endswith(port) and row[3] in ("01", "08") for row in rows):  # established, close-wait
                return
            time.sleep(0.05)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """CPU time of the master, its live descendants and the children it has reaped."""
        hertz, total, pending = os.sysconf("SC_CLK_TCK"), 0, [self.process.pid]
        while pending:
            pid = pending.pop()
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            fields = stat[stat.rindex(")") + 2 :].split()
            total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
            pending += [int(child) for child in children]
        return total / hertz

    def metrics(self) -> dict:
        """SQL statements, requests and cache results so far, every worker added up."""
        with urllib.request.urlopen(self.url("/metrics"), timeout=10) as response:
            families = text_string_to_metric_families(response.read().decode())
        names = {"django_db_execute_total": "sql", "django_http_requests_total_by_method_total": "requests"}
        out = {"sql": 0.0, "requests": 0.0, "cache": {}}
        for sample in (sample for family in families for sample in family.samples):
            if sample.name in names:
                out[names[sample.name]] += sample.value
            elif sample.name == "resee_cache_requests_total":
                result = sample.labels["result"]
                out["cache"][result] = out["cache"].get(result, 0) + sample.value
        return out

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


def wrk(server: Server, requests: Path | dict[str, Path], seconds: float, connections: int = 8) -> dict:
    """One wrk run (2 threads) replaying `requests` (or a file per group, a thread each); its
    JSON, plus rps, the server's CPU and the hit rates."""
    cpu, load = server.cpu_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN)
    command = ["wrk", "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    files = [f"{group}={path}" for group, path in requests.items()] if isinstance(requests, dict) else [requests]
    command += ["-s", str(SCRIPT), server.url("/"), "--", *map(str, files)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    cpu, after = server.cpu_seconds() - cpu, resource.getrusage(resource.RUSAGE_CHILDREN)
    load = after.ru_utime + after.ru_stime - load.ru_utime - load.ru_stime  # wrk's own, reaped by run()
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-800:]} {done.stderr[-800:]}")
    server.wait_idle()
    out = json.loads(lines[-1])
    out["rps"] = round(out["requests"] / out["seconds"], 1)
    out["cpu_ms_per_request"] = round(cpu * 1000 / max(1, out["requests"]), 3)
    out["wrk_cpu_ms_per_request"] = round(load * 1000 / max(1, out["requests"]), 3)
    out["hit_rate"] = _hit_rate(out["x_cache"])
    if by_group := out.pop("x_cache_by_group"):
        out["x_cache_by_scheduler"] = by_group
        out["hit_rate_by_scheduler"] = {group: _hit_rate(counts) for group, counts in by_group.items()}
    return out


def _hit_rate(x_cache: dict) -> float:
    looked_up = sum(x_cache.values())
    return round(x_cache["HIT"] / looked_up, 4) if looked_up else 0.0


def write_requests(path: Path, rows) -> Path:
    path.write_text("".join(f"{method}\t{url}\t{token}\t{body}\n" for method, url, token, body in rows))
    return path


def today_rows(users: list[dict]):
    return [("GET", "/api/review/today/", user["token"], "") for user in users]


def mix_rows(users: list[dict], *, count: int, seed: int, zipf_s: float = 1.1, mix=MIX):
    """`count` requests: users by Zipf(s) rank, kinds by the mix, a user's own queries and cards."""
    rng = random.Random(seed)
    picked = rng.choices(users, weights=[1 / rank**zipf_s for rank in range(1, len(users) + 1)], k=count)
    kinds = rng.choices(list(mix), weights=list(mix.values()), k=count)
    rows = []
    for number, (user, kind) in enumerate(zip(picked, kinds, strict=True)):
        token, card = user["token"], rng.choice(user["contents"])
        if kind == "today":
            rows.append(("GET", f"/api/review/today/{rng.choice(user['today_queries'])}", token, ""))
        elif kind == "content":
            rows.append(("GET", f"/api/content/{rng.choice(user['content_queries'])}", token, ""))
        elif kind == "stats":
            rows.append(("GET", "/api/analytics/stats/", token, ""))
        elif kind == "complete":
            body = {"content_id": card, "result": rng.choice(RESULTS), "time_spent_seconds": rng.randint(3, 120)}
            rows.append(("POST", "/api/review/complete/", token, json.dumps(body)))
        else:
            rows.append(("PATCH", f"/api/content/{card}/", token, json.dumps({"title": f"Edited card {number}"})))
    return rows


def compare(*, env: dict, users: list[dict], rotation: list[dict], rounds: int, seconds: float, work_dir: Path) -> dict:
    """The servers side by side (the `"http"` part of the results)."""
    files = {
        "today_hit": write_requests(work_dir / "today.tsv", today_rows(rotation)),
        "notfound": write_requests(work_dir / "notfound.tsv", [("GET", "/api/no-such-endpoint/", "", "")]),
        "workload": write_requests(work_dir / "mix.tsv", mix_rows(users, count=20000, seed=11)),
    }
    running, runs = {}, {name: {part: [] for part in files} for name in SERVERS}
    try:
        for name in SERVERS:
            running[name] = Server(name, env, work_dir)
        for server in running.values():
            server.wait_ready()
        prefill = write_requests(work_dir / "prefill.tsv", today_rows(users))
        for server in running.values():  # every worker warm (imports, connections) and every entry filled
            wrk(server, prefill, 1)
        order = list(SERVERS)
        for turn in range(rounds):
            for name in order[turn % len(order) :] + order[: turn % len(order)]:
                for part, path in files.items():
                    runs[name][part].append(wrk(running[name], path, seconds))
    finally:
        for server in running.values():
            server.stop()
    servers = {name: _summary(parts) for name, parts in runs.items()}
    return {
        "baseline": BASELINE, "deployed": DEPLOYED, "servers": servers, "rounds": rounds, "seconds_per_run": seconds,
        "over_baseline": {
            name: {
                "today_hit": round(row["today_hit_rps"] / servers[BASELINE]["today_hit_rps"], 2),
                "workload": round(row["workload_rps"] / servers[BASELINE]["workload_rps"], 2),
            }
            for name, row in servers.items()
        },
    }  # fmt: skip


FIGURES = {  # figure: (part, field of each wrk run), the median of the rounds
    "today_hit_rps": ("today_hit", "rps"), "notfound_rps": ("notfound", "rps"), "workload_rps": ("workload", "rps"),
    "workload_p99_ms": ("workload", "p99_ms"), "cpu_ms_per_request": ("workload", "cpu_ms_per_request"),
    "today_hit_cpu_ms_per_request": ("today_hit", "cpu_ms_per_request"), "today_hit_rate": ("today_hit", "hit_rate"),
    "workload_hit_rate": ("workload", "hit_rate"), "wrk_cpu_ms_per_request": ("workload", "wrk_cpu_ms_per_request"),
}  # fmt: skip


def _summary(parts: dict) -> dict:
    row = {
        name: round(statistics.median(run[field] for run in parts[part]), 3) for name, (part, field) in FIGURES.items()
    }
    row["spread"] = {part: [min(r["rps"] for r in runs), max(r["rps"] for r in runs)] for part, runs in parts.items()}
    for errors in ("server_errors", "socket_errors"):
        row[errors] = sum(run[errors] for runs in parts.values() for run in runs)
    return row


def workload(*, env: dict, users: list[dict], mode: str, warmup: float, seconds: float, work_dir: Path) -> dict:
    """The deployed server with the cache off or on: a prefill (every user's today once), a
    warm-up and the measured window, on requests of their own (other seeds); in the window, a
    file per scheduler (Zipf within each), half the connections each."""
    env = {**env, "CACHE_ENABLED": "1" if mode.startswith("cache_on") else "0"}
    warm = write_requests(work_dir / f"warm-{mode}.tsv", mix_rows(users, count=20000, seed=5))
    groups = {name: [user for user in users if user["scheduler"] == name] for name in SCHEDULERS}
    measured = {name: write_requests(work_dir / f"mix-{mode}-{name}.tsv", mix_rows(group, count=25000, seed=7))
                for name, group in groups.items() if group}  # fmt: skip
    server = Server(DEPLOYED, env, work_dir)
    try:
        server.wait_ready()
        wrk(server, write_requests(work_dir / "prefill.tsv", today_rows(users)), 1)
        wrk(server, warm, warmup)
        before = server.metrics()
        run = wrk(server, measured, seconds)
        after = server.metrics()
    finally:
        server.stop()
    served = after["requests"] - before["requests"] - 1  # the first scrape counted itself
    sql = after["sql"] - before["sql"]
    results = {key: round(after["cache"].get(key, 0) - before["cache"].get(key, 0)) for key in after["cache"]}
    return {
        **run,
        "server_requests": round(served),
        "sql_queries_per_request": round(sql / served, 3) if served else None,
        "sql_queries_per_min": round(sql / run["seconds"] * 60),
        "cache_results": results,
    }
