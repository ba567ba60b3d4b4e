"""`@idempotent` on a view's write handler: with an `Idempotency-Key` header, a retry gets the
first answer again (same status and body, plus `Idempotent-Replayed: true`) and the write is
applied once; the same key with another method, path or body is a 422; a retry that comes while
the first is still running waits for it, up to RESEE['IDEMPOTENCY_WAIT_SECONDS'], then is a 409.
Keys are per user and kept RESEE['IDEMPOTENCY_KEY_HOURS'].

# Note: the key's row is written in the write's own transaction, under a unique (user, key)
# constraint: a second request with the key waits on the first's uncommitted row in the unique
# index, then finds it committed (replay) or gone (the first failed and changed nothing: it runs).
# So the guarantee is the database's, exact under races and indifferent to a Redis outage; a
# process that dies mid-write leaves neither the write nor the key. Answers that are errors
# (raised) roll back with the write and are not kept: the retry runs again."""

import functools
import hashlib
import json
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from utils import clock
from utils.conf import resee_setting
from utils.idempotency.models import IdempotentRequest

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout expires

IDEMPOTENCY_KEY = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    description=(
        "Any string of 1-255 visible ASCII characters (e.g. a UUID), new for each write. A retry with "
        f"the same key within 24 hours is answered as the first time, with `{REPLAYED}: true`, and "
        "applied once; the same key with another body is a 422, and a 409 while the first is still running."
    ),
)


class KeyReused(APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = f"This {HEADER} was used for another request (method, path or body); use a new key."
    default_code = "idempotency_key_reused"


class KeyInFlight(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = f"A request with this {HEADER} is still being processed; retry shortly."
    default_code = "idempotency_key_in_flight"
    wait = 1  # DRF's handler turns it into Retry-After


def idempotent(handler):
    @functools.wraps(handler)
    def keyed(view, request, *args, **kwargs):
        key = _key(request)
        if key is None or not request.user.is_authenticated:
            return handler(view, request, *args, **kwargs)
        fingerprint = _fingerprint(request)
        with transaction.atomic():
            first = _claim(user_id=request.user.id, key=key, fingerprint=fingerprint)
            if first is not None:
                return _replay(first, fingerprint)
            response = handler(view, request, *args, **kwargs)
            _keep(response, user_id=request.user.id, key=key)
        return response

    return keyed


def forget(request) -> None:
    """Free the request's key after a failure that came once its write had committed (and that
    changed nothing a retry could repeat), so that the client's retry runs again."""
    key = _key(request)
    if key is not None and request.user.is_authenticated:
        IdempotentRequest.objects.filter(user_id=request.user.id, key=key).delete()


def _key(request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    # Note: the draft sends the key as a structured-field string ("..."); Stripe's clients do not.
    key = raw[1:-1] if len(raw) >= 2 and raw[0] == raw[-1] == '"' else raw
    if not 1 <= len(key) <= 255 or not all("!" <= char <= "~" for char in key):
        raise ValidationError({HEADER: ["Must be 1 to 255 visible ASCII characters."]})
    return key


def _fingerprint(request) -> str:
    """Of the parsed body, not its bytes: a client's retry may reorder keys or pick a new
    multipart boundary. A file counts by its name and content."""
    data = request.data
    if isinstance(data, QueryDict):
        data = {name: data.getlist(name) for name in data}
    body = json.dumps(data, sort_keys=True, default=_file_digest, ensure_ascii=False)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def _file_digest(upload) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return f"{upload.name}:{digest.hexdigest()}"


def _claim(*, user_id: int, key: str, fingerprint: str) -> IdempotentRequest | None:
    """None when this request now holds the key (its row written, uncommitted), else the first
    request's row, committed."""
    now = clock.now()
    expired = now - timedelta(hours=resee_setting("IDEMPOTENCY_KEY_HOURS"))
    IdempotentRequest.objects.filter(user_id=user_id, created_at__lte=expired).delete()
    try:
        with transaction.atomic(), _lock_wait(resee_setting("IDEMPOTENCY_WAIT_SECONDS")):
            IdempotentRequest.objects.create(user_id=user_id, key=key, fingerprint=fingerprint, created_at=now)
    except IntegrityError:
        return IdempotentRequest.objects.get(user_id=user_id, key=key)
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
            raise KeyInFlight() from None
        raise
    return None


@contextmanager
def _lock_wait(seconds: float):
    """Bound how long the insert waits for a first request still holding the key (PostgreSQL;
    SQLite has one writer at a time). If the body raises, its savepoint's rollback restores the
    setting; otherwise it is restored here, so the write itself waits as it always did."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)", [f"{int(seconds * 1000)}ms"]
        )
        previous = cursor.fetchone()[0]
    yield
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def _replay(first: IdempotentRequest, fingerprint: str) -> Response:
    if first.fingerprint != fingerprint:
        raise KeyReused()
    return Response(json.loads(first.body), status=first.status, headers={**first.headers, REPLAYED: "true"})


def _keep(response: Response, *, user_id: int, key: str) -> None:
    headers = {name: value for name, value in response.items() if name.lower() != "content-type"}
    body = json.dumps(response.data, cls=JSONEncoder, ensure_ascii=False)
    IdempotentRequest.objects.filter(user_id=user_id, key=key).update(
        status=response.status_code, body=body, headers=headers
    )
