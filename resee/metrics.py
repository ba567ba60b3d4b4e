"""/metrics on the API's own port, so behind a bearer token once one is configured: the page
names every endpoint and shows the traffic, which is nobody's business but the scraper's."""

import hmac
import os
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.http import JsonResponse
from django_prometheus.exports import ExportToDjangoView
from prometheus_client.multiprocess import mark_process_dead


def metrics(request):
    expected = settings.METRICS_TOKEN
    if expected:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
            response = JsonResponse({"detail": "A valid metrics token is required."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    forget_dead_workers()
    return ExportToDjangoView(request)


def _workers_dir() -> Path | None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(directory) / "workers" if directory else None


def record_worker() -> None:
    """Note this worker's pid, for `forget_dead_workers` (a server without a worker-exit hook
    calls it in each worker at start)."""
    directory = _workers_dir()
    if directory:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / str(os.getpid())).touch()


def forget_dead_workers() -> None:
    """Drop the live-mode gauges (the breaker's) of recorded workers that are gone.

    # Note: gunicorn calls prometheus-client's mark_process_dead from its child_exit hook; uWSGI
    # runs no Python in the master when a worker dies (and a SIGKILLed worker runs none itself),
    # so the scrape does it, before it reads: a dead worker's gauge never shows, whatever killed
    # it. Its counters stay, as they do under gunicorn."""
    directory = _workers_dir()
    if not directory or not directory.is_dir():
        return
    for record in directory.iterdir():
        try:
            os.kill(int(record.name), 0)
        except ProcessLookupError:
            mark_process_dead(int(record.name))
            record.unlink(missing_ok=True)
        except (PermissionError, ValueError):
            continue


@checks.register(checks.Tags.security, deploy=True)
def metrics_token_is_set(app_configs, **kwargs):
    if settings.METRICS_TOKEN:
        return []
    return [
        checks.Warning(
            "METRICS_TOKEN is not set, so anyone who can reach the API can read /metrics.",
            hint="Set METRICS_TOKEN and give Prometheus the same value (see docs/operations.md).",
            id="resee.W001",
        )
    ]
