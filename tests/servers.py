"""Real servers the tests start for themselves on free loopback ports, bounded in time, the
binaries they need, and the environment a subprocess of the app needs to share this test's
database, Redis and keys."""

import contextlib
import functools
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.test import override_settings

from chaos.servers import CLUSTER_NODE_ARGS
from utils import redis_layer

START_SECONDS = 5.0
# Where browser tests leave their screenshots (gitignored, under var/).
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR", settings.BASE_DIR / "var" / "test-artifacts"))
BURST = 8  # concurrent requests, twice a worker's threads

# The programs tests run that a machine with only Python lacks, and where to get them.
INSTALL_HINTS = {
    "redis-server": "Debian: apt-get install redis-server",
    "redis-cli": "Debian: apt-get install redis-tools",
    "promtool": "Debian: apt-get install prometheus",
    "chromium": "Debian: apt-get install chromium",
    "prometheus": "Debian: apt-get install prometheus",
    "prometheus-redis-exporter": "Debian: apt-get install prometheus-redis-exporter",
    "wrk": "Debian: apt-get install wrk",
    "initdb": "Debian: apt-get install postgresql",
    "pg_ctl": "Debian: apt-get install postgresql",
}


def require_binary(name: str) -> str:
    """The path of `name` on PATH. Without it the calling test skips and says why, except in CI
    (any non-empty CI, as tests/conftest.py treats a missing server), where it fails: CI runs
    every test."""
    path = shutil.which(name)
    if path:
        return path
    reason = f"{name} not found on PATH ({INSTALL_HINTS[name]})"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}: this test must run in CI")
    pytest.skip(reason)


def free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DownRedis:
    """A Redis client stand-in (utils.redis_layer.RedisLayer) whose every command fails as one whose
    server went away does."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise redis.ConnectionError("Connection refused (test)")

        return fail


def terminate(proc: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL after 5 s; None, for `self.proc = terminate(self.proc)`."""
    if proc is not None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


class RedisServer:
    """One redis-server process of this test, restartable on the same port."""

    def __init__(self, workdir: Path, *extra_args: str, password: str | None = None):
        self.binary = require_binary("redis-server")
        self.port = free_loopback_port()
        self.password = password  # asked of clients, and given to the master when replicating
        auth = ("--requirepass", password, "--masterauth", password) if password else ()
        self.extra_args = (*extra_args, *auth)  # e.g. "--maxmemory", "2mb"
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def admin(self, db: int = 0, timeout: float = 5.0) -> redis.Redis:
        """A raw client of our own, outside django-redis' pools (close it after use)."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            db=db,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
        )

    def start(self) -> None:
        assert self.proc is None, "already running"
        self._log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.workdir),
                *self.extra_args,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                log = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited with {code} on port {self.port}:\n{log}")
            try:
                with self.admin(timeout=0.2) as client:
                    if client.ping():
                        return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"redis-server on port {self.port} did not answer PING in {START_SECONDS} s")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: no shutdown, clients see their connections drop mid-flight."""
        self.proc.kill()
        self.stop()

    def stop(self) -> None:
        self.proc = terminate(self.proc)
        if self._log is not None:
            self._log.close()
            self._log = None

    def pause(self, milliseconds: int) -> None:
        """Every client of this server (ours included) is held for `milliseconds`: slow, not down."""
        with self.admin() as client:
            client.client_pause(milliseconds, all=True)

    def wait_until_unpaused(self) -> None:
        with self.admin(timeout=10) as client:
            client.ping()  # held by the server until the pause ends

    def entries_holding(self, text: str, db: int) -> list[bytes]:
        """Keys of `db` whose value contains `text` (our own tiny server: SCAN is cheap)."""
        with self.admin(db=db) as client:
            return [key for key in client.scan_iter(count=1000) if text.encode() in (client.get(key) or b"")]


class TcpProxy:
    """A cable to `upstream` on a free loopback port that the test can cut (every connection
    dropped, new ones refused) and mend on the same port: the server itself is never touched."""

    def __init__(self, upstream_host: str, upstream_port: int):
        self.upstream = (upstream_host, upstream_port)
        self.port = free_loopback_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()

    def __enter__(self) -> "TcpProxy":
        self.mend()
        return self

    def __exit__(self, *exc) -> None:
        self.cut()

    def mend(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            doomed, self._sockets = [self._listener, *self._sockets], set()
            self._listener = None
        for sock in doomed:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                return  # cut
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut while this one was being accepted
                    client.close(), upstream.close()
                    return
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


def forget_pools(fragment: str = "") -> None:
    """Drop the connection pools django-redis keeps per URL for the process (those whose URL
    holds `fragment`): the next client builds its pool from the settings of the moment."""
    from django_redis.pool import ConnectionFactory

    for url in [url for url in ConnectionFactory._pools if fragment in url]:
        ConnectionFactory._pools.pop(url).disconnect()


class RedisClusterServers:
    """A Redis Cluster of this test: `masters` cluster-enabled redis-servers on free loopback
    ports (no replicas), the slots spread over them by `redis-cli --cluster create`. A master
    killed leaves its slots uncovered; the others serve on (cluster-require-full-coverage no,
    which docs/operations.md, "Scaling out", asks of a deployment too)."""

    def __init__(self, workdir: Path, masters: int = 3):
        self.nodes = [RedisServer(workdir / f"node{n}", *CLUSTER_NODE_ARGS) for n in range(masters)]
        for node in self.nodes:
            # Note: the bus port defaults to port + 10000, which may be taken or past 65535.
            node.extra_args += ("--cluster-port", str(free_loopback_port()))
        self.cli = require_binary("redis-cli")

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        created = subprocess.run(
            [self.cli, "--cluster", "create", *addresses, "--cluster-yes"], capture_output=True, text=True, timeout=30
        )
        assert created.returncode == 0, created.stdout + created.stderr
        self.wait_until_ok()

    def wait_until_ok(self, nodes=None, seconds: float = 20.0) -> None:
        """Until every (given) node says the cluster is ok and knows every slot's master."""
        deadline = time.monotonic() + seconds
        for node in nodes or self.nodes:
            with node.admin() as client:
                while client.cluster("info")["cluster_state"] != "ok" or len(client.cluster("slots")) < len(self.nodes):
                    assert time.monotonic() < deadline, f"cluster not ok on port {node.port} after {seconds} s"
                    time.sleep(0.05)

    def node_serving(self, key: str) -> RedisServer:
        with self.nodes[0].admin() as client:
            slot = client.cluster("keyslot", key)
            ranges = client.execute_command("CLUSTER", "SLOTS")
        for start, end, master, *_ in ranges:
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == int(master[1]))
        raise LookupError(f"no master serves slot {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


def delete_this_runs_keys() -> None:
    """Every key this test process wrote, in every alias and release: they all start with the
    process's own REDIS_KEY_NAMESPACE, so nobody else's keys are touched."""
    for purpose in redis_layer.PURPOSES:
        client = redis_layer.client(purpose)
        keys = list(client.scan_iter(match=f"{settings.REDIS_KEY_NAMESPACE}:*", count=1000))
        if keys:
            client.delete(*keys)


class SentinelServer:
    """One redis-server in sentinel mode, monitoring `master` as `name` with a quorum of 2."""

    def __init__(self, workdir: Path, master: "RedisServer", name: str, password: str | None = None):
        self.binary = require_binary("redis-server")
        self.port = free_loopback_port()
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.password = password  # the sentinels' own, asked of clients and of each other
        self.config = workdir / "sentinel.conf"  # Note: a sentinel rewrites its file as it learns
        self.config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {workdir}\n"
            f"sentinel monitor {name} 127.0.0.1 {master.port} 2\n"
            f"sentinel down-after-milliseconds {name} 1000\n"
            f"sentinel failover-timeout {name} 10000\n"
            + (f"sentinel auth-pass {name} {master.password}\n" if master.password else "")
            + (f"requirepass {password}\nsentinel sentinel-pass {password}\n" if password else "")
        )
        self.proc: subprocess.Popen | None = None

    def admin(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, password=self.password, socket_timeout=5)

    def start(self) -> None:
        with open(self.workdir / "sentinel.log", "ab") as log:
            self.proc = subprocess.Popen([self.binary, str(self.config), "--sentinel"], stdout=log, stderr=log)

    def stop(self) -> None:
        self.proc = terminate(self.proc)


class RedisSentinelSet:
    """A master, its replica and three sentinels, all of this test on free loopback ports."""

    NAME = "resee"

    def __init__(self, workdir: Path, *, password: str | None = None, sentinel_password: str | None = None):
        self.master = RedisServer(workdir / "master", password=password)
        replicating = ("--replicaof", "127.0.0.1", str(self.master.port))
        self.replica = RedisServer(workdir / "replica", *replicating, password=password)
        self.sentinels = [
            SentinelServer(workdir / f"sentinel{n}", self.master, self.NAME, sentinel_password) for n in range(3)
        ]

    def start(self) -> None:
        self.master.start()
        self.replica.start()
        for sentinel in self.sentinels:
            sentinel.start()
        self.wait_until_watched()

    def wait_until_watched(self, seconds: float = 30.0) -> None:
        """Until the replica is in sync and every sentinel knows it and the two other sentinels."""
        deadline = time.monotonic() + seconds
        for sentinel in self.sentinels:
            while True:
                try:
                    with sentinel.admin() as client:
                        seen = client.sentinel_master(self.NAME)
                    if seen["num-slaves"] >= 1 and seen["num-other-sentinels"] == len(self.sentinels) - 1:
                        break
                except redis.RedisError:
                    pass
                assert time.monotonic() < deadline, f"sentinels not ready after {seconds} s"
                time.sleep(0.1)
        with self.master.admin() as client:
            while client.info("replication").get("slave0", {}).get("state") != "online":
                assert time.monotonic() < deadline, f"replica not in sync after {seconds} s"
                time.sleep(0.05)

    def master_port(self) -> int:
        with self.sentinels[0].admin() as client:
            return int(client.sentinel_get_master_addr_by_name(self.NAME)[1])

    @property
    def addresses(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", sentinel.port) for sentinel in self.sentinels]

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        self.replica.stop()
        self.master.stop()


@contextlib.contextmanager
def sentinel_mode(sentinels: RedisSentinelSet, **overrides):
    """The app on the sentinels' master (REDIS_MODE=sentinel) while inside, with their passwords."""
    passwords = {
        "REDIS_PASSWORD": sentinels.master.password,
        "REDIS_SENTINEL_PASSWORD": sentinels.sentinels[0].password,
    }
    with override_settings(
        REDIS_MODE="sentinel",
        REDIS_SENTINELS=sentinels.addresses,
        REDIS_SENTINEL_MASTER=sentinels.NAME,
        REDIS_EMBEDDED=False,
        **{**passwords, **overrides},
    ):
        yield sentinels


@contextlib.contextmanager
def cluster_mode(cluster: RedisClusterServers):
    """The app on `cluster` (REDIS_MODE=cluster) while inside, this process's keys deleted on the
    way in and out."""
    with override_settings(REDIS_MODE="cluster", REDIS_URL=cluster.url, REDIS_EMBEDDED=False):
        delete_this_runs_keys()
        try:
            yield cluster
        finally:
            delete_this_runs_keys()


@contextlib.contextmanager
def own_redis_server(workdir: Path, *extra_args: str):
    """A RedisServer of this test, started, and stopped at the end with its connection pools."""
    server = RedisServer(workdir, *extra_args)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        forget_pools(f":{server.port}/")


def caches_at(base_url: str, aliases=None) -> dict:
    """settings.CACHES with `aliases` (default: all) pointed at `base_url`, each on its own /db,
    with the real connection class (never fakeredis)."""
    pointed = {}
    for alias, config in settings.CACHES.items():
        if aliases is not None and alias not in aliases:
            pointed[alias] = config
            continue
        db = config["LOCATION"].rsplit("/", 1)[-1]
        options = {**config["OPTIONS"], "CONNECTION_POOL_KWARGS": {}}
        pointed[alias] = {**config, "LOCATION": f"{base_url}/{db}", "OPTIONS": options}
    return pointed


class Blackhole:
    """A loopback port that takes connections (the kernel's backlog) and never answers: a Redis
    behind a dead network path, on which every call waits out its timeout."""

    def __enter__(self) -> "Blackhole":
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.url = f"redis://127.0.0.1:{self._sock.getsockname()[1]}"
        return self

    def __exit__(self, *exc) -> None:
        self._sock.close()


def app_env(**overrides: str) -> dict:
    """The environment of a subprocess of the app that shares this test's database (PostgreSQL:
    a test's committed rows are visible), Redis, keys and signing key."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "resee.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,testserver",
        "REDIS_KEY_NAMESPACE": settings.REDIS_KEY_NAMESPACE,
        "REDIS_MODE": settings.REDIS_MODE,
        **({} if settings.REDIS_EMBEDDED else {"REDIS_URL": settings.REDIS_URL}),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    return {**env, **overrides}


class LoggedProcess:
    """A subprocess of this test in a session of its own (so stopping it stops its children),
    its output in a log file."""

    def __init__(self, workdir: Path, env: dict, command: list[str], *, name: str):
        self.log_path = workdir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=25)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()


class AppServer(LoggedProcess):
    """The app on a free loopback port; up once /api/health/ answers 200."""

    def __init__(self, workdir: Path, env: dict, command: list[str], *, name: str):
        self.port = free_loopback_port()
        command = [part.format(port=self.port) for part in command]
        super().__init__(workdir, {**env, "HOST": "127.0.0.1", "PORT": str(self.port)}, command, name=name)

    def __enter__(self):
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            try:
                if self.request("GET", "/api/health/")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.log_path.stem} did not come up on port {self.port}:\n{self.log_tail()}")

    def request(self, method: str, path: str, *, token: str | None = None, body: str | None = None):
        """(status, headers, body) of one request on a new connection (spread over the workers)."""
        headers = {"Connection": "close", "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()


class RunServer(AppServer):
    """`manage.py runserver` as `make run` starts it (threaded, no autoreloader)."""

    def __init__(self, workdir: Path, env: dict):
        command = [sys.executable, "manage.py", "runserver", "--noreload", "127.0.0.1:{port}"]
        super().__init__(workdir, env, command, name="runserver")


class GunicornServer(AppServer):
    """gunicorn as deployed (deploy/gunicorn.conf.py) on a free loopback port; the access log
    names the worker pid that served each request."""

    def __init__(self, workdir: Path, env: dict, *, workers: int = 2, config: str = "deploy/gunicorn.conf.py"):
        self.workers = workers
        command = [
            sys.executable, "-m", "gunicorn", "-c", config,
            "--no-control-socket",  # gunicorn 27 would otherwise share ~/.gunicorn/gunicorn.ctl
            "--access-logformat", "pid=%(p)s %(m)s %(U)s %(s)s",
            "resee.wsgi:application",
        ]  # fmt: skip
        super().__init__(workdir, {**env, "WEB_CONCURRENCY": str(workers)}, command, name="gunicorn")

    def on_every_worker(self, method: str, path: str, *, token: str | None = None, rounds: int = 25) -> list[int]:
        """Statuses of bursts of concurrent requests, sent until every worker has served at least
        one of them (one worker can take every request of a sequential client): fails after
        `rounds` bursts."""
        seen_before, statuses = len(self.worker_pids(path)), []
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            for _ in range(rounds):
                burst = [pool.submit(self.request, method, path, token=token) for _ in range(BURST)]
                statuses += [future.result()[0] for future in burst]
                if len(set(self.worker_pids(path)[seen_before:])) == self.workers:
                    return statuses
        raise AssertionError(f"{rounds} bursts to {path} did not reach all {self.workers} workers")

    def worker_pids(self, path: str) -> list[int]:
        """The pid of the worker that served each request to `path`, in order."""
        self._log.flush()
        pids = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            fields = line.split()
            if fields and fields[0].startswith("pid=") and len(fields) > 2 and fields[2] == path:
                pids.append(int(fields[0].removeprefix("pid=").strip("<>")))  # %(p)s is "<pid>"
        return pids


class DeployedServer(AppServer):
    """The production server as deployed (`python -m resee.serve`: uWSGI) on a free loopback
    port."""

    def __init__(self, workdir: Path, env: dict, *, workers: int = 2):
        self.workers = workers
        command = [sys.executable, "-m", "resee.serve"]
        super().__init__(workdir, {**env, "WEB_CONCURRENCY": str(workers)}, command, name="serve")

    def worker_pids(self) -> set[int]:
        """The master's live workers: its children that run what it runs (not the embedded Redis
        it may have started)."""

        def cmdline(pid: int) -> bytes | None:
            with contextlib.suppress(OSError):
                return Path(f"/proc/{pid}/cmdline").read_bytes()

        master = self.proc.pid
        children = Path(f"/proc/{master}/task/{master}/children")
        pids = children.read_text().split() if children.exists() else []
        return {int(pid) for pid in pids if cmdline(int(pid)) == cmdline(master)}


def require_rabbitmq() -> str:
    """The broker URL of the settings, if a broker answers there. Without one the calling test
    skips and says why, except in CI, where it fails (as a missing server does)."""
    from kombu import Connection

    url = settings.CELERY_BROKER_URL
    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - any failure to connect is "no broker"
        reason = f"RabbitMQ not reachable at {urlsplit(url).hostname}:{urlsplit(url).port} ({error})"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}: this test must run in CI")
        pytest.skip(reason)
    return url


class CeleryWorker(LoggedProcess):
    """`celery worker` on the solo pool (one process: SIGKILL is the death of the whole worker),
    consuming this test process's own queue with this test's database, Redis and keys. Up once
    it says it is ready."""

    def __init__(self, workdir: Path, env: dict):
        command = [sys.executable, "-m", "celery", "-A", "resee.celery", "worker", "--pool=solo"]
        command += ["--without-gossip", "--without-mingle", "--loglevel=INFO", f"--hostname=test-{os.getpid()}@%h"]
        super().__init__(workdir, env, command, name=f"worker-{time.monotonic_ns()}")

    def __enter__(self) -> "CeleryWorker":
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            if " ready." in self.log_path.read_text(errors="replace"):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the worker did not come up:\n{self.log_tail()}")


def delete_queue(name: str) -> None:
    """Remove a queue this test run declared (its own name: CELERY_TASK_DEFAULT_QUEUE)."""
    from kombu import Connection

    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as conn:
        conn.default_channel.queue_delete(name)


@contextlib.contextmanager
def static_site(directory: Path):
    """The files of `directory` over HTTP on a free loopback port: another origin than the app's.
    Yields the site's origin."""
    handler = functools.partial(_QuietFiles, directory=str(directory))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as site:
        thread = threading.Thread(target=site.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{site.server_address[1]}"
        finally:
            site.shutdown()
            thread.join(timeout=5)


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:  # noqa: A002 - the stdlib's signature
        pass


def http_get(url: str) -> bytes | None:
    """The body of a 2xx answer, or None when there is none (refused, an error status, a timeout)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read()
    except OSError:
        return None


class HttpService(LoggedProcess):
    """A server program on a free loopback port of its own; up once `ready_path` answers."""

    ready_path = "/"

    def __init__(self, workdir: Path, command: list[str], *, name: str, port: int | None = None):
        self.port = port or free_loopback_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(workdir, {}, [part.format(port=self.port) for part in command], name=name)

    def __enter__(self):
        deadline = time.monotonic() + 30
        while self.proc.poll() is None and time.monotonic() < deadline:
            if http_get(self.url + self.ready_path) is not None:
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.log_path.stem} did not come up on port {self.port}:\n{self.log_tail()}")


class PrometheusServer(HttpService):
    """Debian's Prometheus on the configuration `config_for(its port)` writes (it may scrape
    itself), its data in the workdir; `query` asks its HTTP API."""

    ready_path = "/-/ready"

    def __init__(self, workdir: Path, config_for):
        port = free_loopback_port()
        command = [require_binary("prometheus"), f"--config.file={config_for(port)}"]
        command += [
            f"--storage.tsdb.path={workdir / 'tsdb'}",
            "--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ]
        super().__init__(workdir, command, name="prometheus", port=port)

    def query(self, expr: str) -> list[dict]:
        answer = http_get(f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert answer is not None, f"Prometheus refused {expr}:\n{self.log_tail()}"
        return json.loads(answer)["data"]["result"]


class RedisExporter(HttpService):
    """Debian's prometheus-redis-exporter in front of one Redis."""

    ready_path = "/metrics"

    def __init__(self, workdir: Path, redis_url: str):
        command = [require_binary("prometheus-redis-exporter"), f"-redis.addr={redis_url}"]
        super().__init__(workdir, [*command, "-web.listen-address=127.0.0.1:{port}"], name="redis-exporter")


def chaos_run(out: Path, **options) -> dict:
    """A chaos run (chaos.run) of this test's own, writing to `out`: its report's summary. Skips
    without redis-server or PostgreSQL's programs, as every server test does (fails in CI)."""
    from chaos.run import run
    from chaos.servers import missing_programs

    if missing := missing_programs():
        reason = f"{', '.join(missing)} not found ({'; '.join(INSTALL_HINTS[name] for name in missing)})"
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {reason}: this test must run in CI")
        pytest.skip(reason)
    defaults = {"seed": 7, "operations": 1200, "clients": 4, "users": 1, "fault_kinds": ()}
    return run(out=out, **{**defaults, **options})
