"""What a request asks for, read strictly and cheaply: its query string and the renderer its
Accept header names.

The query string costs nothing when there is nothing to validate, and what it holds that a read
does not know is refused: a parameter the read does not take, or one given twice, is a 400 naming
it, never silently ignored. Paging (`page_params`) is two positive integers, the page size capped.

Content negotiation settles the common case at once: one JSON renderer and an Accept that is
absent, `*/*` or `application/json` (what the web app and every HTTP library send) get that
renderer without parsing media types; anything else is DRF's to decide, a 406 included."""

import re
from collections.abc import Collection

from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.settings import api_settings

from utils.conf import resee_setting

UNKNOWN = "Unknown query parameter."
REPEATED = "Give this parameter once."
PAGE_PARAMS = ("page", "page_size")
_PAGE_NUMBER = re.compile(r"[0-9]{1,9}")
_PLAIN_ACCEPTS = frozenset({None, "*/*", "application/json"})


def validated_query(serializer_class, request, *, also: Collection[str] = ()) -> dict:
    """The serializer's validated data from the request's query string (which may also hold the
    parameters named in `also`, validated elsewhere, e.g. paging); when it holds none of the
    serializer's fields, just the fields' defaults, without building the serializer.

    # Note: a DRF serializer deep-copies its fields on every instantiation, a visible share of a
    # cache hit in the bench's profile; most hits send no filter at all, and then not even the
    # empty QueryDict is built."""
    declared = serializer_class._declared_fields
    if has_query(request):
        refuse_unknown_params(request, allowed=declared.keys() | set(also))
    if not has_query(request) or not any(name in request.query_params for name in declared):
        return {name: field.default for name, field in declared.items() if field.default is not empty}
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def refuse_unknown_params(request, *, allowed: Collection[str]) -> None:
    """400 naming every parameter of the query string that is not `allowed`, or that is repeated."""
    query = request.query_params
    refused = {name: [UNKNOWN] for name in query if name not in allowed}
    refused.update({name: [REPEATED] for name in query if name in allowed and len(query.getlist(name)) > 1})
    if refused:
        raise ValidationError(refused)


def has_query(request) -> bool:
    """Whether the request has a query string at all (without building its QueryDict)."""
    return bool(request.META.get("QUERY_STRING"))


def page_params(request, default_page_size: int | None = None) -> tuple[int, int]:
    """(page, page_size) from the query string, validated; what a cache key of a page needs.
    A page size asked past RESEE['MAX_PAGE_SIZE'] is taken as that maximum; the default is the
    server's own choice."""
    if not has_query(request):
        return 1, default_page_size or api_settings.PAGE_SIZE
    params = request.query_params
    asked = _positive_int(params, "page_size")
    page_size = min(asked, resee_setting("MAX_PAGE_SIZE")) if asked else default_page_size or api_settings.PAGE_SIZE
    return _positive_int(params, "page") or 1, page_size


def _positive_int(params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    # Note: a strict ASCII pattern, checked before int(): str.isdigit() accepts "²", and int() of a
    # 5,000-digit string raises; both would otherwise be 500s.
    if not _PAGE_NUMBER.fullmatch(raw) or int(raw) < 1:
        raise ValidationError({name: [f"Must be a positive integer of at most 9 digits, got {raw[:20]!r}."]})
    return int(raw)


class PlainJSONNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        plain = (
            len(renderers) == 1
            and renderers[0].media_type == "application/json"
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT") in _PLAIN_ACCEPTS
            and not (has_query(request) and self.settings.URL_FORMAT_OVERRIDE in request.query_params)
        )
        if plain:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
