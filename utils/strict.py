"""Strict input: a request body may hold only the fields its serializer writes.

DRF ignores a field it does not know, so a client that misspells one (or sends a read-only one)
gets a 2xx for a write that dropped part of what it asked. Every request serializer derives from
`StrictSerializer` or `StrictModelSerializer`; a write that takes no body validates against
`NoFields`. tests/scenarios/test_strict_input.py walks every operation of the OpenAPI document, so an
endpoint that forgets is a failing test."""

from collections.abc import Mapping

from rest_framework import serializers

UNKNOWN = "Unknown field."
READ_ONLY = "This field is read-only."


class StrictFieldsMixin:
    """A serializer that refuses fields it does not write: `{"<field>": ["Unknown field."]}`, with
    the other field errors if there are any. A nested strict serializer refuses its own."""

    def to_internal_value(self, data):
        refused = self.get_refused_fields(data)
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not refused:
                raise
            raise serializers.ValidationError({**refused, **exc.detail}) from None
        if refused:
            raise serializers.ValidationError(refused)
        return value

    def get_refused_fields(self, data) -> dict[str, list[str]]:
        """Field name -> error, for each key of `data` this serializer does not write."""
        if not isinstance(data, Mapping):
            return {}  # DRF's own "Expected a dictionary" error says what is wrong
        writable = {field.field_name for field in self._writable_fields}
        return {name: [READ_ONLY if name in self.fields else UNKNOWN] for name in data if name not in writable}


class StrictSerializer(StrictFieldsMixin, serializers.Serializer):
    pass


class StrictModelSerializer(StrictFieldsMixin, serializers.ModelSerializer):
    pass


class NoFields(StrictSerializer):
    """The body of a write that takes none (a DELETE), or the query of a read that takes none:
    any field or parameter sent is unknown."""


def validated(serializer_class, data, **kwargs) -> dict:
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
