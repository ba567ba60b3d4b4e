"""Project middleware.

PrometheusAfterMiddleware is django-prometheus' own with each labelled child resolved once: the
stock one resolves nine per request (a lock and a label check each), on every request.

SlowRequestLogMiddleware writes one WARNING line on the `resee.slow` logger for every request
slower than settings.SLOW_REQUEST_MS (env SLOW_REQUEST_MS, default 500; 0 turns it off):

    slow request: method=GET path=/api/review/today/ query_keys=category_slug status=200
    duration_ms=612.4 cache=MISS sql=3

Only the path and the names of the query parameters are logged, never their values (a search may
hold anything a user typed). The same fields are on the record as `extra`, for JSON formatters.
"""

import logging
import time
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django_prometheus import middleware as django_prometheus

logger = logging.getLogger("resee.slow")

_MAX_TEXT = 200


class _QueryCount:
    """A database execute wrapper counting the statements of one request."""

    count = 0  # Note: a class default, so a request pays no constructor of its own

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


class SlowRequestLogMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        threshold_ms = settings.SLOW_REQUEST_MS
        if not threshold_ms:
            return self.get_response(request)
        queries = _QueryCount()
        # Note: the connection, so its execute_wrappers list, is per thread; appending to it
        # directly skips the execute_wrapper() context manager, which costs more per request.
        wrappers = connection.execute_wrappers
        wrappers.append(queries)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
        finally:
            wrappers.remove(queries)
        duration_ms = (time.perf_counter() - started) * 1000
        if duration_ms >= threshold_ms:
            _log(request, response, duration_ms, queries.count)
        return response


class PrometheusAfterMiddleware(django_prometheus.PrometheusAfterMiddleware):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._children = {}

    def process_request(self, request):
        # Note: django-prometheus reads Content-Length with a bare int(), so a malformed one (which
        # runserver passes through; gunicorn refuses it with a 400) was a 500 on every route. Read
        # it as Django's request does: 0.
        try:
            int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            request.META["CONTENT_LENGTH"] = "0"
            request.__dict__.pop("headers", None)  # HttpHeaders is a copy of META, made once
        return super().process_request(request)

    def label_metric(self, metric, request, response=None, **labels):
        if not labels:
            return metric
        key = (metric, *labels.items())
        child = self._children.get(key)
        if child is None:
            # Note: the labels are the method, transport, view name, status and charset: bounded
            # by the routes, as prometheus_client's own children are.
            child = self._children[key] = metric.labels(**labels)
        return child


def _log(request, response, duration_ms: float, sql: int) -> None:
    fields = {
        "method": request.method,
        "path": _printable(request.path),
        "query_keys": _printable(",".join(sorted(request.GET))) or "-",
        "status": response.status_code,
        "duration_ms": round(duration_ms, 1),
        "cache": response.get("X-Cache", "-"),
        "sql": sql,
    }
    logger.warning("slow request: " + " ".join(f"{name}=%s" for name in fields), *fields.values(), extra=fields)


def _printable(text: str) -> str:
    """User-controlled text percent-encoded for a one-line log: no space, newline or other
    character can split the line or forge another one."""
    return quote(text[:_MAX_TEXT], safe="/,")
