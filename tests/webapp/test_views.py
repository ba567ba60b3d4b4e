"""The page at `/` that loads the web app, and the app's files as WhiteNoise serves them."""

import re
from pathlib import Path

import pytest
from django.test import Client

import webapp
from webapp.views import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db


def test_the_root_answers_the_app_page_under_a_policy_of_its_own_origin_only():
    response = Client().get("/")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    sources = re.findall(r"-src ([^;]+)", CONTENT_SECURITY_POLICY)
    assert all(source in ("'self'", "'self' data:", "'none'") for source in sources), sources
    assert '<script type="module" src="/static/webapp/app.js"></script>' in response.text


def test_the_app_page_has_no_inline_script_or_style_and_names_nothing_off_the_origin():
    page = Client().get("/").text

    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert "<style" not in page and " style=" not in page
    assert re.findall(r"(?:src|href)=\"(?:https?:)?//", page) == []


def test_the_app_page_takes_only_reads():
    assert Client().post("/").status_code == 405


@pytest.mark.parametrize("name", ["app.js", "api.js", "screens/review.js", "style.css"])
def test_the_apps_modules_and_styles_are_served_as_static_files(name):
    response = Client().get(f"/static/webapp/{name}")

    assert response.status_code == 200
    assert response["Content-Type"].split(";")[0] in ("text/javascript", "text/css")


def test_no_file_of_the_app_names_an_address_off_the_origin():
    static = Path(webapp.__file__).parent / "static"
    found = {
        (path.name, url)
        for path in static.rglob("*.*")
        for url in re.findall(r"\b(?:https?:)?//[\w.-]+\.\w+[^\s\"'`]*", path.read_text())
    }

    # The SVG namespace is a name, never fetched.
    assert found <= {("stats.js", "http://www.w3.org/2000/svg")}, found
