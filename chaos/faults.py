"""The faults of a chaos run, one at a time on a seeded schedule, each recorded with the moment
it began and the moment it was over (the service back as it was, or, for a fault that is one
blow, the blow)."""

import os
import random
import signal
import threading
import time
from dataclasses import dataclass

# What each fault does to a learner is in the README's "Chaos run".
KINDS = (
    "redis_pause",  # SIGSTOP ... SIGCONT: every Redis call waits out its timeout
    "redis_blackhole",  # the proxy accepts and never answers
    "redis_slow",  # the proxy adds latency each way
    "redis_kill",  # SIGKILL, down a while, back empty
    "redis_restart",  # stopped and started at once, empty
    "worker_kill",  # one app worker SIGKILLed (uWSGI starts another)
    "pg_stop",  # PostgreSQL stopped (immediate), started again a while later
    "pg_terminate",  # pg_terminate_backend on every app connection
)
# Note: with Sentinel the app dials the servers the sentinels name, not the proxy: no blackhole
# or added latency there; the other Redis faults fall on the master of the moment.
SENTINEL_KINDS = (
    *(kind for kind in KINDS if kind not in ("redis_blackhole", "redis_slow")),
    "failover",  # SENTINEL FAILOVER: the replica promoted, the master demoted
)
# Note: a cluster's nodes announce their own addresses, which the app dials: no proxy there
# either; the other Redis faults fall on one node, which stands for a cluster node killed.
CLUSTER_KINDS = tuple(kind for kind in KINDS if kind not in ("redis_blackhole", "redis_slow"))
MODES = {"standalone": KINDS, "sentinel": SENTINEL_KINDS, "cluster": CLUSTER_KINDS}


@dataclass
class Fault:
    kind: str
    start: float
    end: float
    detail: str = ""


class Faults:
    """Injects the faults into `servers` (the run's Postgres, Redis, FaultyProxy and App)."""

    def __init__(self, servers, seed: int, *, hold=(1.5, 3.5), gap=(1.5, 3.0), kinds=KINDS, rounds: int = 2):
        self.pg, self.redis, self.proxy, self.app = servers
        self.rng = random.Random(f"faults-{seed}")
        self.hold, self.gap = hold, gap
        self.kinds = list(kinds)
        self.rounds = rounds
        self.log: list[Fault] = []
        self.mandatory_done = threading.Event()
        self.stopping = threading.Event()

    def schedule(self):
        """Each kind `rounds` times, shuffled; then kinds at random, until stopped."""
        first = [kind for _ in range(self.rounds) for kind in self.kinds]
        self.rng.shuffle(first)
        yield from first
        self.mandatory_done.set()
        while True:
            yield self.rng.choice(self.kinds)

    def run(self) -> None:
        if not self.kinds:
            self.mandatory_done.set()
            return
        for kind in self.schedule():
            if self.stopping.wait(self.rng.uniform(*self.gap)):
                return
            hold = self.rng.uniform(*self.hold)
            start = time.monotonic()
            detail = getattr(self, kind)(hold) or ""
            self.log.append(Fault(kind, start, time.monotonic(), detail))

    def _hold(self, seconds: float) -> None:
        self.stopping.wait(seconds)

    def redis_pause(self, hold: float):
        struck = self.redis.signal(signal.SIGSTOP)
        try:
            self._hold(hold)
        finally:
            self.redis.signal(signal.SIGCONT)
        return struck

    def redis_blackhole(self, hold: float):
        self.proxy.set_mode("blackhole")
        try:
            self._hold(hold)
        finally:
            self.proxy.set_mode("pass")

    def redis_slow(self, hold: float):
        latency = self.rng.uniform(0.02, 0.15)
        self.proxy.set_mode("slow", latency)
        try:
            self._hold(hold)
        finally:
            self.proxy.set_mode("pass")
        return f"{latency * 1000:.0f} ms each way"

    def redis_kill(self, hold: float):
        struck = self.redis.kill()
        self._hold(hold)
        self.redis.start()
        return struck

    def redis_restart(self, hold: float):
        struck = self.redis.stop()
        self.redis.start()
        return struck

    def worker_kill(self, hold: float):
        pids = self.app.worker_pids()
        if not pids:
            return "no worker"
        pid, started = self.rng.choice(sorted(pids)), self.app.workers_started()
        os.kill(pid, signal.SIGKILL)
        # Note: over when a worker in its place has loaded the app, so the next fault never
        # kills the replacement while it starts (both workers down at once).
        deadline = time.monotonic() + 60
        while self.app.workers_started() <= started:
            if time.monotonic() > deadline or self.stopping.wait(0.1):
                return f"pid {pid}, not replaced"
        return f"pid {pid}"

    def pg_stop(self, hold: float):
        self.pg.stop("immediate")
        try:
            self._hold(hold)
        finally:
            self.pg.start()

    def failover(self, hold: float):
        return self.redis.failover()

    def pg_terminate(self, hold: float):
        return f"{self.pg.terminate_connections()} connections"
