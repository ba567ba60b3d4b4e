"""A closed-loop HTTP/1.1 load generator for 127.0.0.1 only, with no Django import (it runs in
processes of its own, started with `spawn`).

Each process runs `connections` threads, each with one keep-alive socket, sending one request at
a time until a fixed deadline: bounded in time, it stops by itself. A request picks a user by
Zipf(s) rank and an endpoint by the mix; responses are parsed just enough (status, X-Cache,
Content-Length or chunked body) to keep the client cheap on a 2-core machine it shares with the
server. Requests that start before `measure_from` are warm-up and not recorded.
"""

import bisect
import json
import random
import socket
import threading
import time
from collections import Counter

MIX = (("today", 0.55), ("content", 0.20), ("stats", 0.15), ("complete", 0.05), ("edit", 0.05))


def parse_mix(text: str) -> tuple:
    """ "today=55,content=20,..." (any scale; kinds left out get 0) -> MIX-shaped tuple."""
    given = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, share = part.partition("=")
        if kind not in dict(MIX):
            raise ValueError(f"unknown request kind {kind!r}; known: {', '.join(k for k, _ in MIX)}")
        given[kind] = float(share)
    total = sum(given.values())
    if total <= 0:
        raise ValueError("the mix needs at least one positive share")
    return tuple((kind, given.get(kind, 0.0) / total) for kind, _ in MIX)


RESULTS = ("remembered",) * 6 + ("partial",) * 2 + ("forgot",)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class ConnectionLost(Exception):
    pass


class Connection:
    def __init__(self, host: str, port: int, timeout: float = 30.0):
        if host not in LOOPBACK:
            raise ValueError(f"the load generator only targets loopback, not {host!r}")
        self.address, self.timeout = (host, port), timeout
        self.sock = None
        self.buffer = bytearray()

    def _connect(self):
        self.sock = socket.create_connection(self.address, timeout=self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = bytearray()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            finally:
                self.sock = None

    def request(self, raw: bytes) -> tuple[int, dict, bytes]:
        """Send one request, return (status, headers, body); one reconnect-and-retry when the
        server had closed the idle connection (keep-alive timeout, worker recycled)."""
        for attempt in (0, 1):
            fresh = self.sock is None
            if fresh:
                self._connect()
            try:
                self.sock.sendall(raw)
                return self._response()
            except (ConnectionLost, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if fresh or attempt:
                    raise ConnectionLost(str(exc) or type(exc).__name__) from None
        raise AssertionError("unreachable")

    def _recv(self):
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionLost("closed by server")
        self.buffer += chunk

    def _response(self) -> tuple[int, dict, bytes]:
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._recv()
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        del self.buffer[: end + 4]
        status = int(head[0][9:12])
        headers = {}
        for line in head[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            length = int(headers["content-length"])
            while len(self.buffer) < length:
                self._recv()
            body = bytes(self.buffer[:length])
            del self.buffer[:length]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = self._chunked()
        elif status in (204, 304) or status < 200:
            body = b""
        else:  # no length: the body ends with the connection
            try:
                while True:
                    self._recv()
            except ConnectionLost:
                pass
            body, self.buffer = bytes(self.buffer), bytearray()
            self.close()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers, body

    def _chunked(self) -> bytes:
        body = bytearray()
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                self._recv()
            size = int(bytes(self.buffer[:end]).split(b";")[0], 16)
            del self.buffer[: end + 2]
            while len(self.buffer) < size + 2:
                self._recv()
            body += self.buffer[:size]
            del self.buffer[: size + 2]
            if size == 0:
                return bytes(body)


def get(path: str, host_header: str, token: str) -> bytes:
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: application/json\r\n\r\n"
    ).encode()


def send_json(method: str, path: str, host_header: str, token: str, payload: dict) -> bytes:
    body = json.dumps(payload).encode()
    return (
        f"{method} {path} HTTP/1.1\r\nHost: {host_header}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


class Picker:
    """Zipf(s) over users (rank 1 = the first user given) and the endpoint mix."""

    def __init__(self, users: list[dict], zipf_s: float, rng: random.Random, host_header: str = "", mix=MIX):
        self.users, self.rng, self.host = users, rng, host_header
        weights = [1 / rank**zipf_s for rank in range(1, len(users) + 1)]
        self.user_cum = list(_cumulative(weights))
        mix = [(kind, share) for kind, share in mix if share > 0]
        self.kinds = [kind for kind, _ in mix]
        self.kind_cum = list(_cumulative([share for _, share in mix]))
        self.edits = 0

    def pick(self) -> tuple[str, int, str | int]:
        """(kind, user index, query string or content id)."""
        rng = self.rng
        index = bisect.bisect_left(self.user_cum, rng.random() * self.user_cum[-1])
        kind = self.kinds[min(len(self.kinds) - 1, bisect.bisect_left(self.kind_cum, rng.random() * self.kind_cum[-1]))]
        user = self.users[index]
        if kind == "today":
            return kind, index, rng.choice(user["today_queries"])
        if kind == "content":
            return kind, index, rng.choice(user["content_queries"])
        if kind == "stats":
            return kind, index, ""
        return kind, index, rng.choice(user["contents"])

    def next(self) -> tuple[str, bytes]:
        kind, index, detail = self.pick()
        token = self.users[index]["token"]
        if kind == "today":
            return kind, get(f"/api/review/today/{detail}", self.host, token)
        if kind == "content":
            return kind, get(f"/api/content/{detail}", self.host, token)
        if kind == "stats":
            return kind, get("/api/analytics/stats/", self.host, token)
        if kind == "complete":
            rng = self.rng
            payload = {"content_id": detail, "result": rng.choice(RESULTS), "time_spent_seconds": rng.randint(3, 120)}
            return kind, send_json("POST", "/api/review/complete/", self.host, token, payload)
        self.edits += 1
        payload = {"title": f"Edited card {detail}.{self.edits}"}
        return kind, send_json("PATCH", f"/api/content/{detail}/", self.host, token, payload)


# What each write invalidated before the policy table (issue 14): every content write all three.
COARSE_INVALIDATES = {"complete": ("today", "stats"), "edit": ("today", "stats", "content")}


def app_invalidates() -> dict[str, tuple[str, ...]]:
    """What each write of the mix invalidates in the app, from utils.cache_utils.policy: a
    completion moves a schedule and counts the review on it, adds a history row and counts it in
    the day's tally; an edit changes a title."""
    from analytics.models import DayTally
    from content.models import Content
    from review.models import ReviewHistory, ReviewSchedule
    from utils.cache_utils.policy import CREATED, namespaces_for

    moved = ["interval_step", "next_review_date", "initial_review_completed", "reviews", "remembered", "updated_at"]
    complete = (
        namespaces_for(ReviewSchedule, change=moved)
        | namespaces_for(ReviewHistory, change=[CREATED])
        | namespaces_for(DayTally, change=["reviews"])
    )
    return {
        "complete": tuple(sorted(complete)),
        "edit": tuple(sorted(namespaces_for(Content, change=["title", "updated_at"]))),
    }


# The endpoints whose variants (in this mix) the app serves from one entry per user: today's
# pages and category filters out of its shared entry (review.selectors.today_read), the content list's
# pages and category filters out of the user's index (content.selectors.content_page_read).
SHARED_ENTRIES = ("today", "content")


def ideal_hit_rate(
    users: list[dict],
    zipf_s: float,
    requests: int,
    seed: int,
    invalidates=None,
    mix=MIX,
    shared=SHARED_ENTRIES,
    refresh: bool = True,
) -> dict:
    """The hit rate of a perfect cache with the app's invalidation policy and entry layout on this
    very mix: one sequential stream, no TTL expiry, no concurrent misses, no warm-up left cold. A
    measured rate close to it means the misses come from the mix, not from the cache layer.
    `refresh`: a write refills the writer's shared entries it bumped (utils.cache_utils.refresh);
    the result then says how many refills were replaced by another write before any read."""
    invalidates = invalidates or app_invalidates()
    picker = Picker(users, zipf_s, random.Random(seed), mix=mix)
    generation: dict = {}
    filled: dict = {}
    hits, reads, refills = Counter(), Counter(), Counter()
    unread: set = set()  # (user, namespace) refilled and not read since
    for i in range(requests):
        kind, index, detail = picker.pick()
        counted = i >= requests // 5  # the first fifth warms up, as the real run does
        if kind in invalidates:
            for namespace in invalidates[kind]:
                generation[(index, namespace)] = generation.get((index, namespace), 0) + 1
                if refresh:
                    refills["replaced unread"] += counted and (index, namespace) in unread
                    refills["refills"] += counted
                    filled[(index, namespace, "")] = generation[(index, namespace)]
                    unread.add((index, namespace))
            continue
        key = (index, kind, "" if kind in shared else detail)
        current = generation.get((index, kind), 0)
        if counted:
            reads[kind] += 1
            hits[kind] += filled.get(key) == current
        if key[2] == "":
            unread.discard((index, kind))
        filled[key] = current
    total = sum(reads.values())
    return {
        "hit_rate": round(sum(hits.values()) / total, 4) if total else 0.0,
        "by_endpoint": {kind: round(hits[kind] / reads[kind], 4) for kind in reads},
        "requests_simulated": requests,
        "refills": refills["refills"],
        "refills_replaced_unread": refills["replaced unread"],
    }


def _cumulative(values):
    total = 0.0
    for value in values:
        total += value
        yield total


class Stats:
    def __init__(self):
        self.latency_us: dict[str, list[int]] = {kind: [] for kind, _ in MIX}
        self.status: dict[str, Counter] = {kind: Counter() for kind, _ in MIX}
        self.x_cache: dict[str, Counter] = {kind: Counter() for kind, _ in MIX}
        self.errors: Counter = Counter()
        self.error_samples: list[str] = []
        self.warmup_requests = 0

    def merge(self, other: "Stats") -> None:
        for kind in self.latency_us:
            self.latency_us[kind] += other.latency_us[kind]
            self.status[kind] += other.status[kind]
            self.x_cache[kind] += other.x_cache[kind]
        self.errors += other.errors
        self.error_samples += other.error_samples[: max(0, 5 - len(self.error_samples))]
        self.warmup_requests += other.warmup_requests

    def as_dict(self) -> dict:
        return {
            "latency_us": self.latency_us,
            "status": {k: dict(v) for k, v in self.status.items()},
            "x_cache": {k: dict(v) for k, v in self.x_cache.items()},
            "errors": dict(self.errors),
            "error_samples": self.error_samples,
            "warmup_requests": self.warmup_requests,
        }


def _drive(plan: dict, seed: int, measure_from: float, until: float, stats: Stats) -> None:
    rng = random.Random(seed)
    picker = Picker(plan["users"], plan["zipf_s"], rng, plan["host_header"], plan.get("mix", MIX))
    connection = Connection(plan["host"], plan["port"])
    try:
        while (started_at := time.monotonic()) < until:
            kind, raw = picker.next()
            started = time.perf_counter_ns()
            try:
                status, headers, _ = connection.request(raw)
            except (ConnectionLost, OSError) as exc:
                stats.errors["connection"] += 1
                if len(stats.error_samples) < 5:
                    stats.error_samples.append(f"{kind}: {exc!r}")
                connection.close()
                time.sleep(0.01)
                continue
            elapsed = time.perf_counter_ns() - started
            if started_at < measure_from:
                stats.warmup_requests += 1
                continue
            stats.latency_us[kind].append(elapsed // 1000)
            stats.status[kind][status] += 1
            if "x-cache" in headers:
                stats.x_cache[kind][headers["x-cache"]] += 1
            if status >= 400:
                stats.errors[f"http {status}"] += 1
    finally:
        connection.close()


def process_main(plan: dict, index: int, measure_from: float, until: float, out) -> None:
    """Entry point of one load process: `connections` threads, then the merged stats on `out`."""
    per_thread = [Stats() for _ in range(plan["connections"])]
    threads = [
        threading.Thread(
            target=_drive, args=(plan, plan["seed"] * 1000 + index * 100 + i, measure_from, until, per_thread[i])
        )
        for i in range(plan["connections"])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    merged = Stats()
    for stats in per_thread:
        merged.merge(stats)
    out.put(merged.as_dict())


def prefill(plan: dict, paths: list[str], threads: int = 8) -> Counter:
    """GET each user's `paths` once (warm-up: loads revocation hashes, fills caches when on)."""
    statuses: Counter = Counter()
    lock = threading.Lock()
    jobs = [(user, path) for user in plan["users"] for path in paths]

    def work(share):
        connection = Connection(plan["host"], plan["port"])
        try:
            for user, path in share:
                status, _, _ = connection.request(get(path, plan["host_header"], user["token"]))
                with lock:
                    statuses[status] += 1
        finally:
            connection.close()

    pool = [threading.Thread(target=work, args=(jobs[i::threads],)) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return statuses
