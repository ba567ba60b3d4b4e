"""What the bench's parts share: a redis-server of its own, its key namespaces, the seeded users
as the load needs them, and what the machine is."""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


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
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                   "no", "--dir", str(self.dir), "--protected-mode", "yes", *self.extra_args]  # fmt: skip
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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

    def stale(key: bytes) -> bool:
        head = key.decode(errors="replace").split(":", 1)[0].removeprefix(f"{family}-")
        return head.isdigit() and not alive(int(head))

    return _unlink(url, dbs, f"{family}-*", stale)


def clear_namespace(url: str, namespace: str, dbs) -> int:
    """Delete this bench's keys (`<namespace>:*`) in the given databases: SCAN + UNLINK, never a flush."""
    return _unlink(url, dbs, f"{namespace}:*", lambda key: True)


def _unlink(url: str, dbs, pattern: str, wanted) -> int:
    deleted = 0
    for db in sorted(set(dbs)):
        client = redis.Redis.from_url(url, db=db)
        keys = [key for key in client.scan_iter(match=pattern, count=1000) if wanted(key)]
        for start in range(0, len(keys), 1000):
            deleted += client.unlink(*keys[start : start + 1000])
    return deleted


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()  # Note: any user's process; the bench reads /proc already


def build_users(tokens: dict[int, str]) -> list[dict]:
    """Per user (in id order, i.e. Zipf rank): token, content ids, and the today / content-list
    queries whose pages exist (20 per page unfiltered, 5 per page within a category)."""
    from django.db.models import Count

    from accounts.models import Learner
    from content.models import Content

    ids, counts = {}, {}
    schedulers = dict(Learner.objects.filter(user_id__in=tokens).values_list("user_id", "scheduler"))
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
        content_queries += [f"?category_slug={slug}&page={page}&page_size=5" for slug in slugs
                            for page in (1, 2, 3) if (page - 1) * 5 < per_category[slug]]  # fmt: skip
        # Note: today's queries are 70% unfiltered, 30% one of the user's categories.
        today_queries = [""] * max(1, round(len(slugs) * 7 / 3)) + [f"?category_slug={s}" for s in slugs]
        users.append({"id": user_id, "token": tokens[user_id], "scheduler": schedulers.get(user_id, Learner.LADDER),
                      "contents": ids.get(user_id, []), "today_queries": today_queries,
                      "content_queries": content_queries})  # fmt: skip
    return [user for user in users if user["contents"]]


def cpu_model() -> str:
    info = Path("/proc/cpuinfo")
    lines = info.read_text().splitlines() if info.exists() else []
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "unknown")


def nproc() -> int:
    return len(os.sched_getaffinity(0))
