"""What drf-spectacular needs told: our authentication is a Bearer JWT; a DELETE may have a body."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object

from utils.schema import ErrorDocumentingAutoSchema


class RevocableJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.RevocableJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )


class BodyOnDeleteSchema(ErrorDocumentingAutoSchema):
    """Documents the JSON body of a DELETE (the password that confirms an account's deletion):
    drf-spectacular documents the bodies of PUT, PATCH and POST only."""

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
