"""Every operation of the OpenAPI document is on the API page and in the rendered reference."""

import re
from pathlib import Path

from docsgen import openapi
from tests.helpers import docs_tool

DOCS = Path(__file__).resolve().parents[2] / "docs"
METHODS = {"get", "put", "patch", "post", "delete"}
# Routes the API page lists that the document does not describe: the document and its viewer
# themselves, and the metrics behind their own token.
OUTSIDE_THE_DOCUMENT = {("get", "/api/schema/"), ("get", "/api/docs/"), ("get", "/metrics")}


def _schema(anon) -> dict:
    response = anon.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def _operations(schema: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in schema["paths"].items() for method in item if method in METHODS}


def _same_shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _api_page_operations() -> set[tuple[str, str]]:
    """(method, path) of each row of the API page's endpoint table (`GET/PATCH /api/x/`)."""
    found = set()
    for line in (DOCS / "api.md").read_text().splitlines():
        if not line.startswith("| `"):
            continue
        for methods, path in re.findall(r"`([A-Z/]+) (/[^`]*)`", line.split(" | ")[0]):
            found |= {(method.lower(), _same_shape(path)) for method in methods.split("/")}
    return found


def test_the_api_page_lists_every_operation_of_the_document_and_no_other(anon):
    documented = {(method, _same_shape(path)) for method, path in _operations(_schema(anon))}
    listed = _api_page_operations()
    assert documented - listed == set(), "operations missing from docs/api.md's table"
    assert listed - documented - OUTSIDE_THE_DOCUMENT == set(), "docs/api.md lists operations the API lacks"


def _rendered_operations(markdown: str) -> set[tuple[str, str]]:
    """(method, path) of each operation heading of the rendered reference, its markup removed."""
    headings = re.findall(r'^### <span class="http-([a-z]+)">[A-Z]+</span> (.+)$', markdown, flags=re.MULTILINE)
    return {(method, re.sub(r"<[^>]+>", "", path)) for method, path in headings}


def test_the_reference_page_renders_every_operation_of_the_document(anon):
    schema = _schema(anon)
    handler = docs_tool("openapidocs.mk.v3").OpenAPIV3DocumentationHandler
    rendered = handler(schema, style="MKDOCS").write()
    assert _rendered_operations(rendered) == _operations(schema)


def test_the_reference_page_reads_the_document_docsgen_writes():
    page = (DOCS / "api-reference.md").read_text()
    (source,) = re.findall(r"\[OAD\(([^)]+)\)\]", page)
    assert (DOCS / source).resolve() == openapi.OUT
