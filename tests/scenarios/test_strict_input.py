"""Strict input over the whole API, read from the OpenAPI document as drf-spectacular generates
it: every write operation answers a body field it does not take with a 400 naming it, and every
read a query parameter it does not take. A new endpoint is in the table the day it is routed."""

import io

import pytest
from drf_spectacular.generators import SchemaGenerator

from decks.models import ImportJob
from tests.helpers import make_card, make_category, schedule_of

WRITES = ("post", "put", "patch", "delete")
# drf-spectacular's own views: `?format=` and `?lang=` are theirs to take.
NOT_OURS = ("/api/schema/", "/api/docs/")


def operations(methods) -> list[tuple[str, str, dict]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method, path, operation)
        for path, item in schema["paths"].items()
        if path not in NOT_OURS
        for method, operation in item.items()
        if method in methods
    ]


def test_the_table_holds_every_write_and_read_of_the_api():
    writes, reads = operations(WRITES), operations(("get",))
    assert len(writes) >= 15 and len(reads) >= 12
    assert ("post", "/api/review/complete/") in {(method, path) for method, path, _ in writes}
    assert ("delete", "/api/content/{id}/") in {(method, path) for method, path, _ in writes}


@pytest.fixture
def own_objects(alice) -> dict[str, str]:
    """A value for each path parameter that names one of alice's objects: an unknown field must
    be refused, not hidden behind a 404."""
    card = make_card(alice, category=make_category(alice, "Verbs"))
    job = ImportJob.objects.create(owner=alice.user, filename="deck.csv", format="csv", state=ImportJob.SUCCEEDED)
    return {
        "/api/content/{id}/": str(card.id),
        "/api/content/categories/{id}/": str(card.category_id),
        "/api/review/schedules/{id}/": str(schedule_of(card).id),
        "/api/imports/{job_id}/": str(job.id),
    }


def url_of(path: str, own_objects: dict[str, str]) -> str:
    if "{" not in path:
        return path
    assert path in own_objects, f"{path}: name one of alice's objects in own_objects"
    return path[: path.index("{")] + own_objects[path] + "/"


@pytest.mark.parametrize(("method", "path", "operation"), operations(WRITES), ids=lambda value: str(value)[:40])
def test_every_write_refuses_a_field_it_does_not_take_and_names_it(alice, own_objects, method, path, operation):
    url = url_of(path, own_objects)
    media_types = operation.get("requestBody", {}).get("content", {"application/json": None})
    if "multipart/form-data" in media_types:
        body = {"file": io.BytesIO(b"front,back\nser,to be\n"), "surprise_field": "1"}
        response = getattr(alice, method)(url, body, format="multipart")
    else:
        response = getattr(alice, method)(url, {"surprise_field": 1}, format="json")

    assert response.status_code == 400, (method, path, response.content)
    assert response.json()["surprise_field"] == ["Unknown field."]


@pytest.mark.parametrize(("method", "path", "operation"), operations(("get",)), ids=lambda value: str(value)[:40])
def test_every_read_refuses_a_query_parameter_it_does_not_take_and_names_it(
    alice, own_objects, method, path, operation
):
    response = alice.get(url_of(path, own_objects), {"surprise_param": "1"})

    assert response.status_code == 400, (path, response.content)
    assert response.json() == {"surprise_param": ["Unknown query parameter."]}
