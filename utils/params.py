"""Query-string validation that costs nothing when there is nothing to validate, and refuses
what it does not know: a parameter the read does not take, or one given twice, is a 400 naming
it, never silently ignored."""

from collections.abc import Collection

from rest_framework.exceptions import ValidationError
from rest_framework.fields import empty

UNKNOWN = "Unknown query parameter."
REPEATED = "Give this parameter once."


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
