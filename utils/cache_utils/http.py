"""The read-through entry point the views use: lookup -> on miss compute -> store, as an
HttpResponse with X-Cache, ETag / If-None-Match, Cache-Control and Vary headers."""

import logging
import time
from collections.abc import Callable
from typing import Any

import orjson
from django.http import HttpResponse, HttpResponseNotModified
from django.utils.cache import patch_vary_headers
from django.utils.http import parse_etags
from redis.exceptions import RedisError

from utils.cache_utils import store
from utils.cache_utils.conf import cache_setting
from utils.cache_utils.metrics import COMPUTE_SECONDS, ERRORS, REQUESTS

logger = logging.getLogger(__name__)

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"

# Test hooks, called between computing a payload and storing it (to widen race windows).
BEFORE_STORE: list[Callable[[], None]] = []


def cached_json(request, *, namespace: str, params: dict, compute: Callable[[], Any]) -> HttpResponse:
    """Serve `compute()` as JSON through the cache. `params` must hold everything besides the user
    that changes the answer; `compute` runs only on a miss, after the namespace token was read."""
    user_id = request.user.id
    if not cache_setting("ENABLED"):
        return _respond(request, namespace, BYPASS, _render(namespace, compute)[0])
    try:
        entry = store.lookup(user_id=user_id, namespace=namespace, params=params)
        return _respond(request, namespace, HIT, entry.body, entry.etag)
    except store.CacheMiss as miss:
        version = miss.version
    except RedisError as exc:
        return _bypass(request, namespace, compute, "lookup", exc)
    try:
        version = version or store.claim_version(user_id=user_id, namespace=namespace)
    except RedisError as exc:
        return _bypass(request, namespace, compute, "claim", exc)
    body, seconds = _render(namespace, compute)
    for hook in BEFORE_STORE:
        hook()
    try:
        entry = store.store(
            user_id=user_id, namespace=namespace, params=params, version=version, body=body, compute_seconds=seconds
        )
    except RedisError as exc:
        ERRORS.labels(operation="store").inc()
        logger.warning("cache: store failed for %s: %s", namespace, exc)
        return _respond(request, namespace, MISS, body)
    return _respond(request, namespace, MISS, body, entry.etag)


def _bypass(request, namespace: str, compute, operation: str, exc: Exception) -> HttpResponse:
    ERRORS.labels(operation=operation).inc()
    logger.warning("cache: %s failed, serving %s from the database: %s", operation, namespace, exc)
    return _respond(request, namespace, BYPASS, _render(namespace, compute)[0])


def _render(namespace: str, compute) -> tuple[bytes, float]:
    started = time.perf_counter()
    body = orjson.dumps(compute())
    seconds = time.perf_counter() - started
    COMPUTE_SECONDS.labels(endpoint=namespace).observe(seconds)
    return body, seconds


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = parse_etags(header)
    return "*" in wanted or etag.removeprefix("W/") in {tag.removeprefix("W/") for tag in wanted}


def _respond(request, namespace: str, result: str, body: bytes, etag: str | None = None) -> HttpResponse:
    REQUESTS.labels(endpoint=namespace, result=result.lower()).inc()
    etag = etag or store.etag_for(body)
    if _etag_matches(request.headers.get("If-None-Match"), etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["X-Cache"] = result
    # Per-user answers: a browser may keep them but must revalidate; no shared proxy may store them.
    response["Cache-Control"] = "private, no-cache"
    patch_vary_headers(response, ["Authorization"])
    return response
