"""Page-number pagination that rejects malformed paging instead of guessing."""

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from utils.conf import resee_setting


def _positive_int(params, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1 or len(raw) > 9:
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
