"""Tells drf-spectacular that our authentication is a Bearer JWT, and what our token obtain
serializer (simplejwt's, strict) takes and answers."""

from drf_spectacular.contrib.rest_framework_simplejwt import TokenObtainPairSerializerExtension
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class RevocableJWTScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.RevocableJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="AUTHORIZATION", token_prefix="Bearer", bearer_format="JWT"
        )


class TokenObtainSchema(TokenObtainPairSerializerExtension):
    target_class = "accounts.serializers.TokenObtainPairSerializer"
