import pytest
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from content.models import Category
from utils.strict import NoFields, StrictModelSerializer, StrictSerializer, validated


class Point(StrictSerializer):
    x = serializers.IntegerField()
    label = serializers.CharField(read_only=True)


class Shape(StrictSerializer):
    name = serializers.CharField()
    points = Point(many=True)
    origin = Point(required=False)


def errors_of(serializer_class, data, **kwargs) -> dict:
    with pytest.raises(ValidationError) as raised:
        validated(serializer_class, data, **kwargs)
    return raised.value.detail


def test_a_body_of_known_fields_is_validated_as_drf_would():
    assert validated(Shape, {"name": "line", "points": [{"x": 1}, {"x": 2}]}) == {
        "name": "line",
        "points": [{"x": 1}, {"x": 2}],
    }


def test_an_unknown_field_is_named_with_the_other_field_errors():
    assert errors_of(Shape, {"points": [], "colour": "red"}) == {
        "colour": ["Unknown field."],
        "name": ["This field is required."],
    }


def test_a_read_only_field_sent_is_refused_as_read_only():
    assert errors_of(Shape, {"name": "dot", "points": [{"x": 1, "label": "a"}]}) == {
        "points": {0: {"label": ["This field is read-only."]}}
    }


def test_nested_objects_and_lists_of_them_refuse_their_own_unknown_fields():
    errors = errors_of(Shape, {"name": "dot", "points": [{"x": 1}, {"x": 2, "y": 3}], "origin": {"x": 0, "z": 1}})
    assert errors == {"points": {1: {"y": ["Unknown field."]}}, "origin": {"z": ["Unknown field."]}}


def test_a_partial_update_still_refuses_unknown_fields():
    assert errors_of(Shape, {"colour": "red"}, partial=True) == {"colour": ["Unknown field."]}


def test_a_body_that_is_not_an_object_gets_drfs_own_error():
    assert list(errors_of(Shape, ["name"])) == ["non_field_errors"]


def test_a_write_that_takes_no_body_refuses_any_field_and_accepts_none():
    assert validated(NoFields, {}) == {}
    assert errors_of(NoFields, {"force": True}) == {"force": ["Unknown field."]}


def test_a_model_serializers_read_only_id_is_refused():
    class CategoryWrite(StrictModelSerializer):
        class Meta:
            model = Category
            fields = ["id", "name"]

    assert errors_of(CategoryWrite, {"id": 7, "name": "Verbs"}) == {"id": ["This field is read-only."]}
