"""The production server: uWSGI (pyuwsgi's build), as `make serve`, the Dockerfile,
docker-compose.yml and deploy/k8s start it. Chosen by measurement: `make bench` runs it beside
gunicorn and granian ("Servers over HTTP") on the same app and data.

    python -m resee.serve [module:application]      # default resee.wsgi:application

Every value can be overridden with the environment variable named beside it.
"""

import importlib
import os
import random
import socket
import sys
import tempfile
from pathlib import Path

TARGET_VARIABLE = "RESEE_WSGI_TARGET"  # what each worker's `application()` loads, handed down by main()
ACCESS_LOG_FORMAT = '%(addr) "%(method) %(uri)" %(status) %(msecs)ms'


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def options() -> dict:
    """uWSGI's settings, from the environment: option name -> value (True: a flag)."""
    host, port = os.environ.get("HOST", "0.0.0.0"), env_int("PORT", 8000)
    lifetime = env_int("WEB_WORKER_LIFETIME", 3600)
    settings = {
        "strict": True,  # an option uWSGI does not know stops it instead of being ignored
        "master": True,
        "http11-socket": f"{host}:{port}",
        "processes": env_int("WEB_CONCURRENCY", 2),
        # Django holds the GIL for most of a request: a few threads overlap its I/O waits.
        "threads": env_int("WEB_THREADS", 4),
        # Each worker imports the app itself, after the fork: no connection or thread is shared.
        "lazy-apps": True,
        "single-interpreter": True,
        "need-app": True,
        "eval": "import resee.serve; application = resee.serve.application()",
        # A JWT plus cookies outgrow uWSGI's default 4 KB for a request's headers.
        "buffer-size": 32768,
        # Worker recycling, by age and by memory; a recycled worker finishes its requests first,
        # and the app loads again in its replacement for a few seconds. Worker N lives a tenth
        # longer than worker N-1: workers started together never reload together.
        "max-worker-lifetime": lifetime,
        "max-worker-lifetime-delta": lifetime // 10,
        "reload-on-rss": env_int("WEB_WORKER_MAX_RSS_MB", 320),
        # Graceful shutdown. uWSGI's SIGTERM would reload; this makes it stop, letting requests in
        # flight finish for at most WEB_GRACEFUL_TIMEOUT seconds.
        "hook-master-start": "unix_signal:15 gracefully_kill_them_all",
        "worker-reload-mercy": env_int("WEB_GRACEFUL_TIMEOUT", 20),
        "log-format": ACCESS_LOG_FORMAT,
        "disable-logging": os.environ.get("WEB_ACCESS_LOG", "1") == "0",
    }
    return {name: value for name, value in settings.items() if value not in (0, False)}


def arguments(settings: dict) -> list[str]:
    """uWSGI's command line for `settings`."""
    out = []
    for name, value in settings.items():
        out += [f"--{name}"] if value is True else [f"--{name}", str(value)]
    return out


def keepalive_spreading(app, every: int):
    """Answer about one response in `every` with "Connection: close".

    # Note: a keep-alive connection stays on the worker that accepted it, and a recycled worker
    # hands its clients to the others: soon one process (one GIL, one core) serves every client
    # while the rest idle. Closing a connection after ~`every` requests, as nginx's
    # keepalive_requests does, lets its client reconnect to any worker. WSGI gives no connection
    # identity to count on, so each response closes with probability 1/every: connections live
    # `every` requests on average. PEP 3333 keeps hop-by-hop headers from applications; uWSGI's
    # HTTP socket honours this one and closes (tests/deploy/test_serve.py)."""
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
    """Each worker's app: the target app, its metrics recorded, connections spread."""
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


def embedded_redis() -> dict:
    """Without REDIS_URL the app's fakeredis lives inside each process: workers would not share
    the revocations, throttles and cache. uWSGI then runs one fakeredis beside them, on
    loopback, for the workers to share, as `make serve` does on a bare machine.

    # Note: a process of its own, which uWSGI starts and stops with the workers: a thread of
    # the master would never run, as uWSGI's master loop does not give up the GIL."""
    if os.environ.get("REDIS_URL") or os.environ.get("REDIS_MODE", "standalone") != "standalone":
        return {}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    os.environ["REDIS_URL"] = f"redis://127.0.0.1:{port}"
    serve = f"import fakeredis; fakeredis.TcpFakeServer(('127.0.0.1', {port})).serve_forever()"
    return {"attach-daemon": f'exec {sys.executable} -c "{serve}"'}


def main(argv: list[str]) -> None:
    import pyuwsgi

    os.environ[TARGET_VARIABLE] = argv[0] if argv else "resee.wsgi:application"
    prepare_metrics_dir()
    pyuwsgi.run(*arguments({**options(), **embedded_redis()}))


if __name__ == "__main__":
    main(sys.argv[1:])
