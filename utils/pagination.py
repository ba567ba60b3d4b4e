"""Page-number pagination that rejects malformed paging instead of guessing."""

from urllib.parse import urlencode

from django.core.paginator import InvalidPage, Paginator
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from utils.params import PAGE_PARAMS, has_query, page_params, refuse_unknown_params

_MAX_NUMBER = 999_999_999  # the largest page number page_params takes, as the OpenAPI document states it


class StrictPageNumberPagination(PageNumberPagination):
    """`?page=` and `?page_size=` must be positive integers (400 otherwise); page_size is capped
    at RESEE['MAX_PAGE_SIZE'] rather than rejected, as DRF does; a page past the end is 404. They are
    a list's whole query: any other parameter is a 400 (a list that filters validates its query
    with `utils.params.validated_query(..., also=PAGE_PARAMS)` and paginates by `page_payload`)."""

    page_size_query_param = "page_size"

    def paginate_queryset(self, queryset, request, view=None):
        if has_query(request):
            refuse_unknown_params(request, allowed=PAGE_PARAMS)
        return super().paginate_queryset(queryset, request, view)

    def get_page_size(self, request) -> int:
        return page_params(request, self.page_size)[1]

    def get_page_number(self, request, paginator) -> int:
        return page_params(request, self.page_size)[0]

    def get_paginated_response(self, data) -> Response:
        return Response(
            {
                "count": self.page.paginator.count,
                "total_pages": self.page.paginator.num_pages,
                "page": self.page.number,
                "page_size": self.page.paginator.per_page,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return page_schema(super().get_paginated_response_schema(schema))

    def get_schema_operation_parameters(self, view) -> list[dict]:
        """DRF's `page` and `page_size` parameters, with the bounds that are checked."""
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"].update(minimum=1, maximum=_MAX_NUMBER)
        return parameters


class PageParamsSerializer(serializers.Serializer):
    """Documents `page` and `page_size` where a view reads them with `page_params`."""

    page = serializers.IntegerField(min_value=1, max_value=_MAX_NUMBER, required=False, help_text="Default 1.")
    page_size = serializers.IntegerField(
        min_value=1, max_value=_MAX_NUMBER, required=False, help_text="Default 20; more than 100 is taken as 100."
    )


class PageSerializer(serializers.Serializer):
    """Documents what a page holds besides its `results` (`page_payload`, the paginator)."""

    count = serializers.IntegerField(help_text="Items in the whole list.")
    total_pages = serializers.IntegerField(help_text="At least 1: an empty list has one empty page.")
    page = serializers.IntegerField()
    page_size = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


def page_schema(schema: dict) -> dict:
    """DRF's schema of a page, with what a pager needs to be drawn besides `count`."""
    examples = {"total_pages": 7, "page": 4, "page_size": 20}
    numbers = {name: {"type": "integer", "minimum": 1, "example": example} for name, example in examples.items()}
    properties = {"count": schema["properties"]["count"], **numbers, **schema["properties"]}
    return {**schema, "required": ["count", *numbers, "next", "previous", "results"], "properties": properties}


def page_payload(
    rows, *, page: int, page_size: int, base_url: str, query: dict, serialize, count: int | None = None
) -> dict:
    """`{count, total_pages, page, page_size, next, previous, results}` whose links are built only
    from `query` (the validated parameters), never from the raw query string: a cached page must
    not carry one request's stray parameters to every later one. `count`: the number of rows when
    it is known already (no COUNT query then); `rows` then needs to hold only up to this page."""
    paginator = Paginator(rows, page_size)
    if count is not None:
        paginator.count = count  # Note: a cached_property, so the known count replaces the query
    try:
        current = paginator.page(page)
    except InvalidPage:
        raise NotFound("Invalid page.") from None

    def link(number: int | None) -> str | None:
        if number is None:
            return None
        params = {key: value for key, value in query.items() if value not in (None, "")}
        return f"{base_url}?{urlencode({**params, 'page': number, 'page_size': page_size})}"

    return {
        "count": paginator.count,
        "total_pages": paginator.num_pages,
        "page": page,
        "page_size": page_size,
        "next": link(current.next_page_number() if current.has_next() else None),
        "previous": link(current.previous_page_number() if current.has_previous() else None),
        "results": serialize(current.object_list),
    }
