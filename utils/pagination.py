"""Page-number pagination that rejects malformed paging instead of guessing."""

import re

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from utils.conf import resee_setting

_PAGE_NUMBER = re.compile(r"[0-9]{1,9}")


def _positive_int(params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    # Note: a strict ASCII pattern, checked before int(): str.isdigit() accepts "²", and int() of a
    # 5,000-digit string raises; both would otherwise be 500s.
    if not _PAGE_NUMBER.fullmatch(raw) or int(raw) < 1:
        raise ValidationError({name: [f"Must be a positive integer, got {raw[:20]!r}."]})
    return int(raw)


class StrictPageNumberPagination(PageNumberPagination):
    """`?page=` and `?page_size=` must be positive integers (400 otherwise); page_size is capped
    at RESEE['MAX_PAGE_SIZE'] rather than rejected, as DRF does; a page past the end is 404."""

    page_size_query_param = "page_size"

    def get_page_size(self, request) -> int:
        requested = _positive_int(request.query_params, self.page_size_query_param)
        return min(requested or self.page_size, resee_setting("MAX_PAGE_SIZE"))

    def get_page_number(self, request, paginator) -> int:
        return _positive_int(request.query_params, self.page_query_param) or 1
