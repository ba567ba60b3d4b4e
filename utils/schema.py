"""OpenAPI generation: every operation also documents the errors it can answer, so that a client
(and tests/scenarios/test_schema_fuzz.py) knows every status code the API really uses."""

from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from utils.idempotency.decorators import HEADER as IDEMPOTENCY_KEY


class ErrorSerializer(serializers.Serializer):
    """`{"detail": "..."}`, or field errors: `{"<field>": ["..."]}` (any key)."""

    detail = serializers.CharField(required=False)


def close_request_bodies(result: dict, generator, request, public) -> dict:
    """A postprocessing hook: every request body says `additionalProperties: false`, as
    utils.strict refuses a field the body does not take (tests/scenarios/test_strict_input.py
    proves it of every write), so that clients and the fuzzer know it too."""
    schemas = result.get("components", {}).get("schemas", {})
    for item in result["paths"].values():
        for operation in item.values():
            for media in operation.get("requestBody", {}).get("content", {}).values():
                reference = media["schema"].get("$ref")
                if reference:
                    schemas[reference.rsplit("/", 1)[-1]]["additionalProperties"] = False
    return result


class ErrorDocumentingAutoSchema(AutoSchema):
    """drf-spectacular's schema plus the error statuses that follow from how the view is built;
    a status a view declares itself (e.g. a 503 with its own body) is left as declared."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        responses = operation["responses"]
        for code, description in self.get_error_statuses(operation).items():
            if code not in responses:
                responses[code] = {**self._get_response_for_code(ErrorSerializer, code), "description": description}
        operation["responses"] = dict(sorted(responses.items()))
        return operation

    def get_error_statuses(self, operation: dict) -> dict[str, str]:
        """Status code -> description of the errors this operation can answer."""
        parameters = operation.get("parameters", [])
        locations = {parameter["in"] for parameter in parameters}
        paginated = any(parameter["name"] == "page" for parameter in parameters)
        has_body = "requestBody" in operation
        # Note: every operation refuses a query parameter or body field it does not take (utils.strict).
        statuses = {"400": "Invalid input: errors naming each bad, unknown or read-only field or query parameter."}
        # Note: DRF answers 401 only when the view can name an authentication scheme, else 403.
        if self.view.get_authenticate_header(self.view.request):
            statuses["401"] = "Missing, malformed, expired or revoked token, or bad credentials."
        if "path" in locations or paginated:
            statuses["404"] = "No such object of yours, or a page past the end."
        if any(parameter["name"] == IDEMPOTENCY_KEY for parameter in parameters):
            statuses["409"] = "A request with this Idempotency-Key is still being processed; see Retry-After."
            statuses["422"] = "This Idempotency-Key was used for another request."
        if has_body or self.method in ("POST", "PUT", "PATCH", "DELETE"):
            statuses["413"] = "The body is larger than DATA_UPLOAD_MAX_MEMORY_SIZE."
            statuses["415"] = "The body is not JSON."
        if self.view.get_throttles():
            statuses["429"] = "Over a rate limit; see Retry-After."
        statuses["503"] = "The database is unreachable; see Retry-After."
        return statuses
