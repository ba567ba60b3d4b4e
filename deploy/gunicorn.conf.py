"""gunicorn as it served production before uWSGI (resee/serve.py): the bench's baseline and the
test servers' gunicorn (tests/servers.py). Every value can be overridden with the environment
variable named beside it."""

import os
import tempfile
from pathlib import Path

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
# A request slower than this is stuck on a dead dependency; the client has long given up.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 20
keepalive = 5
# Note: gunicorn keeps a keep-alive connection on the worker that accepted it, and a worker
# replaced after max_requests hands its clients to the others when they reconnect: soon one
# process (one GIL, one core) serves every client while the rest idle (seen in `make bench`: one
# worker busy, the other idle). Closing each connection after this many requests, as
# nginx's keepalive_requests does, lets its client reconnect to whichever worker accepts first.
keepalive_requests = int(os.environ.get("GUNICORN_KEEPALIVE_REQUESTS", "100"))
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Prometheus: each worker keeps its own counters, so without a shared directory a scrape would see
# one random worker's. With PROMETHEUS_MULTIPROC_DIR every worker writes its samples there and
# /metrics adds them up. The variable must be set before the workers import prometheus_client:
# here, in the master, which they inherit it from.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="resee-prometheus-")


def on_starting(server):
    # Note: files left by an earlier run would add its counts to ours; start from an empty dir.
    directory = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def pre_request(worker, req):
    if req.req_number >= keepalive_requests:
        req.must_close = True  # answered with "Connection: close"


def child_exit(server, worker):
    # A dead worker's gauges (breaker state) must not count; its counters are kept.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
