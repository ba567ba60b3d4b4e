"""JSON for every error: DRF's handler, plus the failures Django would render as HTML."""

import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def json_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, RequestDataTooBig):
        # Note: left to Django this is its generic 400 "Bad request." plus an ERROR on
        # django.security; an oversized body is an ordinary client mistake: say which, and the limit.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return Response(
            {"detail": f"The request body is larger than {limit} bytes."},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, (OperationalError, InterfaceError)):
        # Note: an unreachable database is an outage, not a bug: say so and let clients retry.
        logger.error("database unavailable: %s", exc)
        return Response(
            {"detail": "The database is unavailable; please retry shortly."},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": "5"},
        )
    if isinstance(exc, DatabaseError):
        logger.exception("database error")
    return None


# Note: the catch-all of unknown /api/ routes is a plain Django view, so without the exemption a
# POST, PUT, PATCH or DELETE to a route that does not exist got the CSRF middleware's HTML 403.
@csrf_exempt
def not_found(request, exception=None, **kwargs):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request, *args, **kwargs):
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request, exception=None, **kwargs):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None, **kwargs):
    return JsonResponse({"detail": "Permission denied."}, status=403)
