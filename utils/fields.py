"""Serializer fields shared by the apps."""

import re

from rest_framework import serializers

# Note: the largest value a 64-bit id column holds; beyond it SQLite raises OverflowError (a 500).
MAX_DB_ID = 2**63 - 1


def id_field(**kwargs) -> serializers.IntegerField:
    """An id sent by the client: a positive integer that fits the database."""
    return serializers.IntegerField(min_value=1, max_value=MAX_DB_ID, **kwargs)


class UnicodeSlugField(serializers.CharField):
    r"""Letters (any script), digits, `_` and `-`: what SlugField(allow_unicode=True) accepts.

    # Note: SlugField's RegexValidator reaches the OpenAPI document as the pattern `^[-\w]+$`, in
    which (an ECMA regex) `\w` is ASCII only: the document refused slugs such as "ü" that the
    API accepts and derives from names. Checked here instead, the document says `string`."""

    default_error_messages = {"invalid": serializers.SlugField.default_error_messages["invalid_unicode"]}
    _slug = re.compile(r"[-\w]+")

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if not self._slug.fullmatch(value):
            self.fail("invalid")
        return value
