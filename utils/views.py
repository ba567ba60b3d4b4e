"""Endpoints that belong to no app: the readiness probe."""

import logging

from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from utils import redis_layer
from utils.params import validated_query
from utils.strict import NoFields

logger = logging.getLogger(__name__)

HealthSerializer = inline_serializer(
    "Health", {"status": serializers.CharField(), "database": serializers.CharField(), "cache": serializers.CharField()}
)


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as exc:  # any driver error means "not ready"
        logger.warning("health: database check failed: %s", exc)
        return False


def _cache_ok() -> bool:
    """Through the layer: while the breaker is open the probe does not wait on Redis either."""
    try:
        return redis_layer.call(redis_layer.CACHE, "ping", redis_layer.client(redis_layer.CACHE).ping)
    except redis_layer.RedisUnavailable:  # the cache is optional for readiness: report, don't raise
        return False


class HealthApi(APIView):
    """200 while the database answers (the cache is reported but does not fail readiness:
    reads fall back to the database when Redis is down)."""

    authentication_classes = []
    permission_classes = [AllowAny]
    throttle_classes = []

    @extend_schema(responses={200: HealthSerializer, 503: HealthSerializer})
    def get(self, request):
        validated_query(NoFields, request)
        database, cache = _database_ok(), _cache_ok()
        body = {
            "status": "ok" if database and cache else ("degraded" if database else "unavailable"),
            "database": "ok" if database else "unavailable",
            "cache": "ok" if cache else "unavailable",
        }
        return Response(body, status=200 if database else 503)
