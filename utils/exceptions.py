"""JSON for every error: DRF's handler, plus the failures Django would render as HTML."""

import logging

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def json_exception_handler(exc, context):
    response = exception_handler(exc, context)
    if response is not None:
        return response
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


def not_found(request, exception=None, **kwargs):
    return JsonResponse({"detail": "Not found."}, status=404)


def server_error(request, *args, **kwargs):
    return JsonResponse({"detail": "Internal server error."}, status=500)


def bad_request(request, exception=None, **kwargs):
    return JsonResponse({"detail": "Bad request."}, status=400)


def permission_denied(request, exception=None, **kwargs):
    return JsonResponse({"detail": "Permission denied."}, status=403)
