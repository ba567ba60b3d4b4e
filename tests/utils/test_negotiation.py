"""utils.params.PlainJSONNegotiation: the common Accept headers are settled without parsing, and every answer is
the one DRF's own negotiation gives."""

import pytest
from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from utils.params import PlainJSONNegotiation

ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "application/json; indent=4",
    "application/*",
    "text/html",
    "text/html, application/json;q=0.9",
    "application/xml",
    "",
]


def _selected(negotiation, renderers, accept, query=""):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get("/api/review/today/" + query, **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, [cls() for cls in renderers])
    except NotAcceptable:
        return "406"
    except Http404:
        return "404"  # a ?format= no renderer has
    return type(renderer), media_type


@pytest.mark.parametrize("renderers", [[JSONRenderer], [JSONRenderer, BrowsableAPIRenderer]])
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", ["", "?format=json", "?format=api"])
def test_every_accept_gets_the_renderer_drf_would_choose(renderers, accept, query):
    ours = _selected(PlainJSONNegotiation(), renderers, accept, query)
    assert ours == _selected(DefaultContentNegotiation(), renderers, accept, query)


def test_an_accept_the_api_cannot_serve_is_a_406(alice):
    response = alice.get("/api/review/today/", HTTP_ACCEPT="application/xml")
    assert response.status_code == 406 and "detail" in response.json()
