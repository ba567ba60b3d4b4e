"""The chaos run's own servers on free loopback ports: a PostgreSQL cluster, a redis-server, a TCP
proxy in front of it that can hold, slow or blackhole its traffic, and the app as deployed
(`python -m resee.serve`). Nothing here touches a server the run did not start; every process
started is stopped by `stop()` (the run calls each in a finally block)."""

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PG_BINARIES = ("initdb", "pg_ctl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def program(name: str) -> str | None:
    """The path of `name`: on PATH, or for PostgreSQL's, where Debian keeps them (off PATH)."""
    found = shutil.which(name)
    if found is None and name in PG_BINARIES:
        versions = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
        found = str(versions[-1]) if versions else None
    return found


def missing_programs() -> list[str]:
    """The programs a chaos run needs that this machine lacks."""
    return [name for name in ("redis-server", "redis-cli", *PG_BINARIES) if program(name) is None]


def config_file(options: list[str]) -> str:
    """redis-server's command-line options (`--name value ...`) as the lines of its config file."""
    lines: list[list[str]] = []
    for option in options:
        if option.startswith("--"):
            lines.append([option[2:]])
        else:
            lines[-1].append(option or '""')
    return "".join(" ".join(line) + "\n" for line in lines)


def wait_for(check, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {seconds} s")
        time.sleep(0.05)


def stop_process(proc: subprocess.Popen | None, *, group: bool = False) -> None:
    """SIGTERM (to its process group when `group`), SIGKILL after 10 s."""
    if proc is None or proc.poll() is not None:
        return
    send = (lambda sig: os.killpg(proc.pid, sig)) if group else proc.send_signal
    with contextlib.suppress(ProcessLookupError):
        send(signal.SIGCONT)  # a paused process cannot act on SIGTERM
        send(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            send(signal.SIGKILL)
        proc.wait(timeout=10)


class Postgres:
    """A PostgreSQL cluster of the run's own in `workdir`: initdb, started with pg_ctl on a free
    port. Run as the `postgres` user when this process is root (PostgreSQL refuses root)."""

    def __init__(self, workdir: Path):
        self.dir = workdir / "pgdata"
        self.log = workdir / "postgres.log"
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/chaos"

    def _run(self, name: str, *args: str) -> None:
        subprocess.run([*self.as_user, program(name), *args], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self.dir.parent.mkdir(parents=True, exist_ok=True)
        if self.as_user:
            shutil.chown(self.dir.parent, "postgres")
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        settings = f"listen_addresses='127.0.0.1'\nport={self.port}\nunix_socket_directories=''\nfsync=off\n"
        with open(self.dir / "postgresql.conf", "a") as conf:
            conf.write(settings + "max_connections=200\n")
        self.start()
        import psycopg

        with psycopg.connect(self.url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE chaos")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.log), "-w", "-t", "30", "start")

    def stop(self, mode: str = "fast") -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "-t", "30", "stop")

    def terminate_connections(self) -> int:
        """pg_terminate_backend on every client connection to the app's database."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=3) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = 'chaos' AND pid <> pg_backend_pid()"
            ).fetchall()
        return len(rows)


class Redis:
    """A redis-server of the run's own (no persistence: a restart comes back empty)."""

    def __init__(self, workdir: Path, *extra_args: str):
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.extra_args = extra_args
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        options = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                   "--dir", str(self.dir), "--maxmemory", "256mb", "--maxmemory-policy", "allkeys-lru",
                   *self.extra_args]  # fmt: skip
        config = self.dir / "redis.conf"
        # Note: written once and kept across restarts, as a deployment's: the sentinels' CONFIG
        # REWRITE records there the role they give the server, which a restart then keeps.
        if not config.exists():
            config.write_text(config_file(options))
        with open(self.dir / "redis.log", "ab") as log:
            self.proc = subprocess.Popen(["redis-server", str(config)], stdout=log, stderr=subprocess.STDOUT)
        wait_for(self.answers, seconds=10, what="redis-server")

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    start_all, stop_all = start, stop


class SentinelRedis:
    """A master, a replica and three sentinels (quorum 2, down after 1 s) of the run's own. Its
    faults fall on whichever server is the master at the moment; `failover` asks the sentinels
    for one and waits until they name the new master."""

    NAME = "resee"

    def __init__(self, workdir: Path):
        self.nodes = [Redis(workdir / "redis-a")]
        self.nodes.append(Redis(workdir / "redis-b", "--replicaof", "127.0.0.1", str(self.nodes[0].port)))
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.workdir = workdir
        self.sentinels: list[subprocess.Popen] = []
        self._struck: Redis | None = None

    @property
    def addresses(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def start_all(self) -> None:
        for node in self.nodes:
            node.start()
        for n, port in enumerate(self.sentinel_ports):
            config = self.workdir / f"sentinel{n}.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.workdir}\n"
                f"sentinel monitor {self.NAME} 127.0.0.1 {self.nodes[0].port} 2\n"
                f"sentinel down-after-milliseconds {self.NAME} 1000\n"
                f"sentinel failover-timeout {self.NAME} 10000\n"
            )
            with open(self.workdir / f"sentinel{n}.log", "ab") as log:
                self.sentinels.append(
                    subprocess.Popen(["redis-server", str(config), "--sentinel"], stdout=log, stderr=log)
                )
        wait_for(self._watched, seconds=60, what="the sentinels")

    def _ask(self, port: int, *command: str) -> list | None:
        import redis

        try:
            with redis.Redis(port=port, socket_timeout=1) as client:
                return client.execute_command(*command)
        except redis.RedisError:
            return None

    def _watched(self) -> bool:
        for port in self.sentinel_ports:
            seen = self._ask(port, "SENTINEL", "MASTER", self.NAME) or {}  # redis-py parses it to a dict
            if int(seen.get(b"num-slaves", 0)) < 1 or int(seen.get(b"num-other-sentinels", 0)) < 2:
                return False
        return True

    def master_port(self) -> int | None:
        for port in self.sentinel_ports:
            if address := self._ask(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.NAME):
                return int(address[1])
        return None

    def master(self) -> Redis:
        port = self.master_port()
        return next(node for node in self.nodes if node.port == port)

    def signal(self, sig: int) -> None:
        if sig == signal.SIGSTOP:
            self._struck = self.master()
        self._struck.signal(sig)

    def kill(self) -> None:
        self._struck = self.master()
        self._struck.kill()

    def stop(self) -> None:
        self._struck = self.master()
        self._struck.stop()

    def start(self) -> None:
        # Note: back as a master of nothing; the sentinels make it a replica of the new master.
        self._struck.start()

    def failover(self) -> str:
        """Ask until the sentinels name another master.
        # Note: they refuse (no good replica) while the replica is a deposed master they have not
        # demoted yet, for some seconds after an earlier fault: the fault waits that out."""
        before = self.master_port()

        def switched() -> bool:
            if self.master_port() not in (before, None):
                return True
            self._ask(self.sentinel_ports[0], "SENTINEL", "FAILOVER", self.NAME)
            time.sleep(1.0)
            return self.master_port() not in (before, None)

        wait_for(switched, seconds=30, what="the failover")
        return f"{before} -> {self.master_port()}"

    def stop_all(self) -> None:
        for sentinel in self.sentinels:
            stop_process(sentinel)
        for node in self.nodes:
            node.stop()


# A node of a cluster whose other nodes serve on while one is away (tests/servers.py's too).
CLUSTER_NODE_ARGS = (
    "--cluster-enabled", "yes",
    "--cluster-config-file", "nodes.conf",
    "--cluster-node-timeout", "1000",
    "--cluster-require-full-coverage", "no",
)  # fmt: skip


class ClusterRedis:
    """Three cluster-enabled masters of the run's own (no replicas), the slots spread over them by
    `redis-cli --cluster create`. A fault falls on one node, picked by the run's seed: the others
    serve on (cluster-require-full-coverage no, as docs/operations.md asks of a deployment), and a
    node started again rejoins with its slots (its nodes.conf), empty."""

    def __init__(self, workdir: Path, seed: int, masters: int = 3):
        # Note: the bus port defaults to port + 10000, which may be taken or past 65535.
        self.nodes = [
            Redis(workdir / f"node{n}", *CLUSTER_NODE_ARGS, "--cluster-port", str(free_port())) for n in range(masters)
        ]
        self._rng = random.Random(f"nodes-{seed}")
        self._struck: Redis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.nodes[0].port}"

    def start_all(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        command = [program("redis-cli"), "--cluster", "create", *addresses, "--cluster-yes"]
        subprocess.run(command, check=True, capture_output=True, timeout=30)
        wait_for(self._ok, seconds=30, what="the cluster")

    def _ok(self) -> bool:
        import redis

        for node in self.nodes:
            try:
                with redis.Redis(port=node.port, socket_timeout=1) as client:
                    if client.cluster("info")["cluster_state"] != "ok":
                        return False
            except redis.RedisError:
                return False
        return True

    def _strike(self) -> Redis:
        self._struck = self._rng.choice(self.nodes)
        return self._struck

    def signal(self, sig: int) -> str:
        if sig == signal.SIGSTOP:
            self._strike()
        self._struck.signal(sig)
        return f"node :{self._struck.port}"

    def kill(self) -> str:
        self._strike().kill()
        return f"node :{self._struck.port}"

    def stop(self) -> str:
        self._strike().stop()
        return f"node :{self._struck.port}"

    def start(self) -> None:
        self._struck.start()

    def stop_all(self) -> None:
        for node in self.nodes:
            node.stop()


class FaultyProxy:
    """A TCP proxy to `upstream` that the app dials instead of Redis. Modes: "pass" (forward),
    "slow" (each chunk waits `latency` seconds each way), "blackhole" (connections old and new are
    held, nothing is forwarded or answered; leaving it closes them, as a mended network path whose
    peers gave up would)."""

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self.port = free_port()
        self.mode = "pass"
        self.latency = 0.0
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port), backlog=256)
        threading.Thread(target=self._accept, daemon=True, name="proxy-accept").start()

    def set_mode(self, mode: str, latency: float = 0.0) -> None:
        was, self.mode, self.latency = self.mode, mode, latency
        if was == "blackhole" and mode != "blackhole":
            self.drop_all()

    def drop_all(self) -> None:
        with self._lock:
            doomed, self._sockets = self._sockets, set()
        for sock in doomed:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def stop(self) -> None:
        self._listener.close()
        self.drop_all()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._connect, args=(client,), daemon=True).start()

    def _connect(self, client: socket.socket) -> None:
        with self._lock:
            self._sockets.add(client)
        while self.mode == "blackhole":
            time.sleep(0.05)
            if client.fileno() < 0:
                return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=2)
        except OSError:
            client.close()
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets.add(upstream)
        for source, sink in ((client, upstream), (upstream, client)):
            threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.mode == "blackhole":
                    time.sleep(0.02)
                    if source.fileno() < 0:
                        return
                if self.mode == "slow":
                    time.sleep(self.latency)
                sink.sendall(data)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class App:
    """The API as deployed: `python -m resee.serve` (uWSGI) on a free loopback port, in a
    session of its own so stopping it stops its workers."""

    def __init__(self, workdir: Path, env: dict, workers: int = 2):
        self.port = free_port()
        self.log_path = workdir / "app.log"
        self.workers = workers
        self.env = {**env, "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(workers)}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> None:
        subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=self.env, check=True,
                       capture_output=True, timeout=300)  # fmt: skip

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "resee.serve"], cwd=REPO, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        wait_for(self.healthy, seconds=60, what="the app")
        wait_for(lambda: len(self.worker_pids()) >= self.workers, seconds=30, what="the app's workers")

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise RuntimeError(f"the app exited with {self.proc.returncode}; see {self.log_path}")
        try:
            with urllib.request.urlopen(self.url + "/api/health/", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def workers_started(self) -> int:
        """How many workers have loaded the app, replacements included (uWSGI's log line)."""
        return self.log_path.read_text(errors="replace").count("WSGI app 0 (mountpoint='') ready")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def stop(self) -> None:
        stop_process(self.proc, group=True)
        self.proc = None
