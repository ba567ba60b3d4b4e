"""The production server: granian (WSGI), as `make serve`, the Dockerfile, docker-compose.yml and
deploy/k8s start it. Chosen by measurement: `make bench` runs it beside gunicorn ("Servers over
HTTP") on the same app and data.

    python -m resee.serve [module:application]      # default resee.wsgi:application

Every value can be overridden with the environment variable named beside it.
"""

import importlib
import os
import random
import sys
import tempfile
import threading
from pathlib import Path

from granian import Granian
from granian.constants import Interfaces

TARGET_VARIABLE = "RESEE_WSGI_TARGET"  # what the workers' factory loads, handed down by main()
ACCESS_LOG_FORMAT = '%(addr)s "%(method)s %(path)s" %(status)d %(dt_ms).1fms'


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def options() -> dict:
    """Granian's settings, from the environment."""
    return dict(
        address=os.environ.get("HOST", "0.0.0.0"),
        port=env_int("PORT", 8000),
        interface=Interfaces.WSGI,
        workers=env_int("WEB_CONCURRENCY", 2),
        # Django holds the GIL for most of a request: a few threads overlap its I/O waits.
        blocking_threads=env_int("WEB_THREADS", 4),
        # Worker recycling: gunicorn's max_requests, by age and by memory instead of by count.
        workers_lifetime=env_int("WEB_WORKER_LIFETIME", 3600) or None,
        workers_max_rss=env_int("WEB_WORKER_MAX_RSS_MB", 320) or None,
        respawn_failed_workers=True,
        # Graceful shutdown: SIGTERM lets in-flight requests finish for this long, then kills.
        workers_kill_timeout=env_int("WEB_GRACEFUL_TIMEOUT", 20),
        log_access=os.environ.get("WEB_ACCESS_LOG", "1") != "0",
        log_access_format=ACCESS_LOG_FORMAT,
        factory=True,
    )


def keepalive_spreading(app, every: int):
    """Answer about one response in `every` with "Connection: close".

    # Note: a keep-alive connection stays on the worker that accepted it, and a recycled worker
    # hands its clients to the others: soon one process (one GIL, one core) serves every client
    # while the rest idle. Closing a connection after ~`every` requests, as nginx's
    # keepalive_requests does, lets its client reconnect to any worker. WSGI gives no connection
    # identity to count on, so each response closes with probability 1/every: connections live
    # `every` requests on average. PEP 3333 keeps hop-by-hop headers from applications; granian
    # (hyper) honours this one and closes (tests/deploy/test_serve.py)."""
    if every <= 0:
        return app

    def application(environ, start_response):
        if random.random() * every >= 1:
            return app(environ, start_response)

        def closing(status, headers, exc_info=None):
            return start_response(status, [*headers, ("Connection", "close")], exc_info)

        return app(environ, closing)

    return application


def application():
    """The factory each worker calls: the target app, its metrics recorded, connections spread."""
    from resee.metrics import record_worker

    module, _, name = os.environ[TARGET_VARIABLE].partition(":")
    app = getattr(importlib.import_module(module), name or "application")
    record_worker()
    return keepalive_spreading(app, env_int("WEB_KEEPALIVE_REQUESTS", 100))


def prepare_metrics_dir() -> Path:
    """prometheus-client's multiprocess directory, empty: every worker writes its samples there
    and /metrics adds them up. Set before the workers start, so they inherit it; files of an
    earlier run would add its counts to ours."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="resee-prometheus-")
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in [*directory.glob("*.db"), *directory.glob("workers/*")]:
        stale.unlink()
    return directory


def share_embedded_redis() -> None:
    """Without REDIS_URL the app's fakeredis lives inside each process: workers would not share
    the revocations, throttles and cache. Serve one fakeredis from this (otherwise idle) master
    over loopback instead, for the workers to share, as `make serve` does on a bare machine."""
    if os.environ.get("REDIS_URL") or os.environ.get("REDIS_MODE", "standalone") != "standalone":
        return
    from fakeredis import TcpFakeServer

    server = TcpFakeServer(("127.0.0.1", 0))
    threading.Thread(target=server.serve_forever, name="embedded-redis", daemon=True).start()
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{server.server_address[1]}"


def main(argv: list[str]) -> None:
    os.environ[TARGET_VARIABLE] = argv[0] if argv else "resee.wsgi:application"
    prepare_metrics_dir()
    share_embedded_redis()
    Granian("resee.serve:application", **options()).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
