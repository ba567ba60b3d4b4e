"""Serializer fields shared by the apps."""

from rest_framework import serializers

# Note: the largest value a 64-bit id column holds; beyond it SQLite raises OverflowError (a 500).
MAX_DB_ID = 2**63 - 1


def id_field(**kwargs) -> serializers.IntegerField:
    """An id sent by the client: a positive integer that fits the database."""
    return serializers.IntegerField(min_value=1, max_value=MAX_DB_ID, **kwargs)
