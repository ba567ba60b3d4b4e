import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from utils.params import validated_query


class Filters(serializers.Serializer):
    search = serializers.CharField(required=False)
    ordering = serializers.ChoiceField(choices=["title", "-title"], default="title")


def query(string: str = "", **kwargs) -> dict:
    return validated_query(Filters, Request(APIRequestFactory().get(f"/things/?{string}")), **kwargs)


def refused(string: str, **kwargs) -> dict:
    with pytest.raises(ValidationError) as raised:
        query(string, **kwargs)
    return raised.value.detail


def test_no_query_gives_the_defaults():
    assert query() == {"ordering": "title"}


def test_known_parameters_are_validated():
    assert query("search=ser&ordering=-title") == {"search": "ser", "ordering": "-title"}


def test_an_unknown_parameter_is_named_even_when_no_known_one_is_sent():
    assert refused("category=3") == {"category": ["Unknown query parameter."]}
    assert refused("search=ser&category=3") == {"category": ["Unknown query parameter."]}


def test_parameters_validated_elsewhere_are_let_through_when_named():
    assert query("page=2&page_size=5", also=("page", "page_size")) == {"ordering": "title"}
    assert refused("page=2") == {"page": ["Unknown query parameter."]}


def test_a_parameter_given_twice_is_refused_not_half_read():
    assert refused("search=a&search=b") == {"search": ["Give this parameter once."]}
    assert refused("page=1&page=2", also=("page",)) == {"page": ["Give this parameter once."]}
