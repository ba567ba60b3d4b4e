"""FreshHitMiddleware: a fresh hit answered before the part of the stack that cannot change it.

A GET of a cached endpoint runs DRF's own checks here (content negotiation, the authentication
with its one Redis round trip, permissions, throttles) and answers at once when they refuse it
(401, 406, 429, as DRF's dispatch would) or when the entry that round trip found is fresh: no
session, CSRF, auth or messages middleware, no URL resolution, no second dispatch. Anything else
(bad parameters, a miss, a stale or early-recomputed entry, Redis down, the L1 on) goes on down the
stack as if this middleware were not there, and the request's prefetch is reused, not sent again.

It sits below the middleware whose work a hit keeps (the slow-request log, django-prometheus'
first half, security headers, host validation and Content-Length, X-Frame-Options) and records
the per-view metrics of django-prometheus' second half itself, so a hit looks the same on every
dashboard whichever path answered it.
"""

import functools
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import ResolverMatch, RoutePattern
from django_prometheus.utils import Time

from utils import prefetch, redis_layer
from utils.cache_utils.conf import cache_setting
from utils.cache_utils.http import serve_fresh
from utils.middleware import PrometheusAfterMiddleware


@dataclass(frozen=True)
class _Route:
    view_class: type
    initkwargs: dict
    match: ResolverMatch  # the same for every request: the route has no parameters


class FreshHitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.metrics = PrometheusAfterMiddleware(get_response)

    def __call__(self, request):
        route = _routes(get_resolver()).get(request.path_info) if request.method == "GET" else None
        response = self._fresh_hit(request, route) if route is not None and _may_hit() else None
        return response if response is not None else self.get_response(request)

    def _fresh_hit(self, request, route: _Route):
        started = Time()
        view = route.view_class(**route.initkwargs)
        view.setup(request)
        drf_request = view.initialize_request(request)
        view.request, view.headers = drf_request, view.default_response_headers
        try:
            _initial(view, drf_request)
        except Exception as exc:
            # Note: answered as DRF's dispatch answers it (a 401, 406 or 429): the check that said
            # no must not be asked again below, where its Redis replies would be reused.
            response = view.handle_exception(exc)
        else:
            response = serve_fresh(drf_request)
            if response is None:
                return None
        response = view.finalize_response(drf_request, response)
        request.resolver_match = route.match
        self.metrics.process_request(request)
        request.prometheus_after_middleware_event = started
        self.metrics.process_view(request, None)
        if callable(getattr(response, "render", None)):  # a refusal, as Django's handler renders it
            response = self.metrics.process_template_response(request, response).render()
        return self.metrics.process_response(request, response)


def _initial(view, request) -> None:
    """DRF's `APIView.initial` for a route without parameters, less the throttles' second look at
    the counts the request's round trip brought back, when each is within its rate."""
    view.format_kwarg = None
    request.accepted_renderer, request.accepted_media_type = view.perform_content_negotiation(request)
    request.version, request.versioning_scheme = view.determine_version(request)
    view.perform_authentication(request)
    view.check_permissions(request)
    if not prefetch.within_rates(request):
        view.check_throttles(request)


def _may_hit() -> bool:
    """Whether a fresh hit can be served from Redis at all; when not (the cache off, the L1 on, the
    cache's circuit open or its debts unpaid) the request goes straight down the stack."""
    return cache_setting("ENABLED") and not cache_setting("L1_ENABLED") and redis_layer.healthy(redis_layer.CACHE)


@functools.cache
def _routes(resolver: URLResolver) -> dict[str, _Route]:
    """path -> route, for every parameterless route whose view describes a cached read."""
    routes = {}
    for path, pattern in _static_patterns(resolver.url_patterns, "/"):
        view_class = getattr(pattern.callback, "cls", None)
        match = resolver.resolve(path)
        if getattr(view_class, "cached_read", None) is not None and match.func is pattern.callback:
            routes[path] = _Route(view_class, pattern.callback.initkwargs, match)
    return routes


def _static_patterns(patterns, prefix: str):
    for pattern in patterns:
        if not isinstance(pattern.pattern, RoutePattern) or pattern.pattern.converters:
            continue
        path = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _static_patterns(pattern.url_patterns, path)
        elif isinstance(pattern, URLPattern):
            yield path, pattern
