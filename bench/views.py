"""The comparison views of the in-process hit-path bench (mounted by bench/urls.py only).

- floor: the same APIView base as the real views, so the same middleware, JWT authentication
  (with its revocation HMGET), permission and throttle classes run; the view answers bytes
  computed beforehand (the very body a hit serves) as an HttpResponse. Nothing a cached endpoint
  could skip: the cost any authenticated endpoint pays.
- limit: a plain Django view behind no middleware (bench.hitpath's bare handler): it verifies the
  same JWT, sends the same Redis commands a hit sends (revocation HMGET, throttle INCR + EXPIRE,
  namespace token + entry MGET) in one pipeline, and answers the stored body. What no
  implementation of a strictly fresh, authenticated, rate-limited hit can go below.
- peer: the real views subclassed, `get` computing the same payload from the same selectors and
  returning a DRF Response, wrapped by drf-extensions' `cache_response` keyed per user + query
  parameters (alias `bench_peer`, see bench/settings.py). The project's own cache is not on this
  path (the selectors are called directly). Without drf-extensions installed, Django's
  `cache_page` + `vary_on_headers("Authorization")` stand in, and PEER_IMPL says so.
"""

import time
import zlib

import orjson
from django.conf import settings
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

from analytics.selectors import stats_for
from content import selectors as content_selectors
from content.serializers import CategoryFilterSerializer, ContentListParamsSerializer, ContentSerializer
from review import selectors as review_selectors
from utils import clock, redis_layer
from utils.cache_utils import conf as cache_conf
from utils.pagination import page_params

PEER_ALIAS = "bench_peer"
# (endpoint, user id) -> the body the floor answers; filled by bench.hitpath before measuring.
FLOOR_BODIES: dict[tuple[str, int], bytes] = {}


class FloorApi(APIView):
    endpoint = ""

    def get(self, request):
        return HttpResponse(FLOOR_BODIES[(self.endpoint, request.user.id)], content_type="application/json")


# (endpoint, user id) -> (revocation hash key, throttle key prefix, MGET keys), from the app's own
# key functions; filled by bench.hitpath before measuring.
LIMIT_KEYS: dict[tuple[str, int], tuple[str, str, tuple[str, str]]] = {}


def limit_view(request, endpoint: str):
    token = AccessToken(request.META["HTTP_AUTHORIZATION"][7:])  # signature, expiry, type
    user_id = int(token["user_id"])
    revocation_key, throttle_key, lookup = LIMIT_KEYS[(endpoint, user_id)]
    window = f"{throttle_key}:{int(time.time())}"  # the bench's rates are per second
    databases = not redis_layer.route(redis_layer.REVOCATION).cluster  # a cluster: one keyspace, no SELECT
    pipe = redis_layer.client(redis_layer.REVOCATION).pipeline(transaction=False)
    pipe.execute_command("HMGET", revocation_key, "loaded", "not_after", f"jti:{token['jti']}")
    if databases:
        pipe.execute_command("SELECT", settings.REDIS_DB_THROTTLE)
    pipe.execute_command("INCR", window)
    pipe.execute_command("EXPIRE", window, 2)
    if databases:
        pipe.execute_command("SELECT", settings.REDIS_DB_CACHE)
    pipe.execute_command("MGET", *lookup)
    if databases:
        pipe.execute_command("SELECT", settings.REDIS_DB_REVOCATION)
    replies = pipe.execute()
    (loaded, not_after, revoked), count, (version, raw) = (replies[i] for i in ((0, 2, 5) if databases else (0, 1, 3)))
    if loaded is None or revoked is not None or (not_after is not None and int(token["iat"]) <= int(not_after)):
        return HttpResponse(status=401)
    if count > 1_000_000:
        return HttpResponse(status=429)
    header, _, body = raw.partition(b"\n")
    meta = orjson.loads(header)
    if meta["v"] != version.decode():
        return HttpResponse(status=503)
    return HttpResponse(zlib.decompress(body) if meta.get("z") else body, content_type="application/json")


def _today_payload(request):
    params = CategoryFilterSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    page, page_size = page_params(request)
    return review_selectors.today_reviews_for(
        user_id=request.user.id,
        today=clock.local_today(),
        category_slug=params.validated_data.get("category_slug"),
        page=page,
        page_size=page_size,
        base_url=request.build_absolute_uri(request.path),
    )


def _stats_payload(request):
    return stats_for(user_id=request.user.id, today=clock.local_today())


def _content_page(view, request):
    """The content list the way a plain DRF view pages it (the peer's computation)."""
    params = ContentListParamsSerializer(data=request.query_params)
    params.is_valid(raise_exception=True)
    contents = content_selectors.content_list_for(user_id=request.user.id, **params.validated_data)
    items = ContentSerializer(view.paginate_queryset(contents), many=True).data
    return view.get_paginated_response(items)


try:
    from rest_framework_extensions import __version__ as _drf_ext_version
    from rest_framework_extensions.cache.decorators import cache_response
    from rest_framework_extensions.key_constructor import bits
    from rest_framework_extensions.key_constructor.constructors import DefaultKeyConstructor
except ImportError:  # requirements-bench.txt not installed: Django's own per-view cache stands in
    cache_response = None


if cache_response is not None:
    PEER_IMPL = f"drf-extensions {_drf_ext_version} cache_response (per user + query params, pickle)"

    class PerUserQueryKey(DefaultKeyConstructor):
        """DefaultKeyConstructor (view + method, format, language) plus the user and every query
        parameter: the usual drf-extensions recipe for per-user list caching."""

        user = bits.UserKeyBit()
        query_params = bits.QueryParamsKeyBit()

    _key = PerUserQueryKey()

    def _cached(namespace):
        return cache_response(timeout=cache_conf.DEFAULTS["TTL"][namespace], key_func=_key, cache=PEER_ALIAS)

    # Note: the peers are plain DRF views with the project's default policies, not served by
    # our cache (no lookup in their round trip).
    class PeerTodayApi(APIView):
        @_cached("today")
        def get(self, request):
            return Response(_today_payload(request))

    class PeerStatsApi(APIView):
        @_cached("stats")
        def get(self, request):
            return Response(_stats_payload(request))

    class PeerContentApi(GenericAPIView):
        serializer_class = ContentSerializer

        @_cached("content")
        def get(self, request):
            return _content_page(self, request)

    def peer_view(view_class):
        return view_class.as_view()

else:
    from django.views.decorators.cache import cache_page
    from django.views.decorators.vary import vary_on_headers

    PEER_IMPL = "Django cache_page + vary_on_headers('Authorization') (drf-extensions not installed)"

    class _VaryAuthorization:
        def finalize_response(self, request, response, *args, **kwargs):
            response = super().finalize_response(request, response, *args, **kwargs)
            patch_vary_headers(response, ["Authorization"])
            return response

    class PeerTodayApi(_VaryAuthorization, APIView):
        ttl = cache_conf.DEFAULTS["TTL"]["today"]

        def get(self, request):
            return Response(_today_payload(request))

    class PeerStatsApi(_VaryAuthorization, APIView):
        ttl = cache_conf.DEFAULTS["TTL"]["stats"]

        def get(self, request):
            return Response(_stats_payload(request))

    class PeerContentApi(_VaryAuthorization, GenericAPIView):
        ttl = cache_conf.DEFAULTS["TTL"]["content"]
        serializer_class = ContentSerializer

        def get(self, request):
            return _content_page(self, request)

    def peer_view(view_class):
        # Note: cache_page answers before DRF runs, so a peer hit here skips authentication and
        # throttling; the key varies on the Authorization header, i.e. per token, not per user.
        return vary_on_headers("Authorization")(cache_page(view_class.ttl, cache=PEER_ALIAS)(view_class.as_view()))
