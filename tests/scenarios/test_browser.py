"""The API as a browser meets it: headless Chromium (Debian's, driven by Playwright, no browser
download) against the app in a subprocess, a test page on another origin calling it with fetch().
The browser decides here: its CORS checks, its own HTTP cache's revalidation (seen in its network
log, not sent by the test), and Swagger UI rendered from the local assets."""

import json
from pathlib import Path

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from content.services import content_create
from tests.helpers import DEFAULT_PASSWORD
from tests.servers import ARTIFACTS, RunServer, app_env, static_site

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PAGES = Path(__file__).parent / "browser"


@pytest.fixture
def user_with_cards(make_user):
    user = make_user("browser")
    # Note: hashed as the server process hashes (the tests' own MD5 hasher is not in its settings).
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(DEFAULT_PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    for n in range(3):
        content_create(owner_id=user.id, title=f"card {n}")
    return user


class NetworkLog:
    """What the browser itself sent and received, from the DevTools protocol: every request's
    method, URL and headers as sent, and its status as received."""

    def __init__(self, page):
        self.requests: dict[str, dict] = {}
        session = page.context.new_cdp_session(page)
        session.on("Network.requestWillBeSent", self._sent)
        session.on("Network.requestWillBeSentExtraInfo", self._headers)
        session.on("Network.responseReceivedExtraInfo", self._status)
        session.send("Network.enable")

    def _entry(self, event) -> dict:
        return self.requests.setdefault(event["requestId"], {"headers": {}, "status": None})

    def _sent(self, event) -> None:
        self._entry(event).update(method=event["request"]["method"], url=event["request"]["url"])

    def _headers(self, event) -> None:
        self._entry(event)["headers"].update({name.lower(): value for name, value in event["headers"].items()})

    def _status(self, event) -> None:
        self._entry(event)["status"] = event["statusCode"]

    def to(self, path: str) -> list[dict]:
        return [entry for entry in self.requests.values() if entry.get("url", "").split("?")[0].endswith(path)]


def client_page(browser, site: str, server: RunServer, user):
    page = browser.new_page()
    log = NetworkLog(page)
    console = []
    page.on("console", lambda message: console.append(message.text))
    query = f"api=http://127.0.0.1:{server.port}/api&user={user.username}&password={DEFAULT_PASSWORD}"
    page.goto(f"{site}/client.html?{query}")
    return page.evaluate("window.result"), log, console


def test_a_web_app_on_its_own_origin_reviews_and_its_browser_revalidates_the_unchanged_list(
    user_with_cards, chromium, tmp_path
):
    with static_site(PAGES) as site, RunServer(tmp_path, app_env(CORS_ALLOWED_ORIGINS=site)) as server:
        result, log, _ = client_page(chromium, site, server, user_with_cards)

    assert "error" not in result, result
    assert (result["first"]["body"]["count"], result["completed"], result["second"]["body"]["count"]) == (3, 200, 2)
    assert result["third"]["body"] == result["second"]["body"]
    # The page read X-Cache: the header is exposed to it.
    assert result["second"]["xCache"] in ("MISS", "HIT")
    # Authorization makes every call "non-simple": the browser asked first, was answered, and kept
    # the answer (Access-Control-Max-Age) for the two later reads.
    preflights = [entry for entry in log.to("/api/review/today/") if entry.get("method") == "OPTIONS"]
    assert [(entry["status"], entry["headers"]["access-control-request-method"]) for entry in preflights] == [
        (200, "GET")
    ]
    reads = [entry for entry in log.to("/api/review/today/") if entry.get("method") == "GET"]
    revalidated = [entry for entry in reads if "if-none-match" in entry["headers"]]
    assert revalidated, reads
    assert revalidated[-1]["status"] == 304, reads


def test_a_page_on_an_origin_not_listed_is_refused_by_the_browser(user_with_cards, chromium, tmp_path):
    with (
        static_site(PAGES) as site,
        static_site(PAGES) as allowed,
        RunServer(tmp_path, app_env(CORS_ALLOWED_ORIGINS=allowed)) as server,
    ):
        result, _, console = client_page(chromium, site, server, user_with_cards)

    assert result == {"error": "TypeError: Failed to fetch"}
    assert any("CORS policy" in line for line in console), console


def test_the_docs_page_renders_every_operation_from_local_assets_alone(chromium, tmp_path):
    with RunServer(tmp_path, app_env()) as server:
        origin = f"http://127.0.0.1:{server.port}"
        status, _, body = server.request("GET", "/api/schema/?format=json")
        assert status == 200
        operations = sum(
            method in ("get", "post", "put", "patch", "delete")
            for path in json.loads(body)["paths"].values()
            for method in path
        )
        page = chromium.new_page()
        errors, hosts = [], set()
        page.on("console", lambda message: message.type == "error" and errors.append(message.text))
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.on("request", lambda request: hosts.add(request.url.split("/")[2]))
        page.goto(f"{origin}/api/docs/")
        page.wait_for_selector(".opblock", timeout=20_000)
        shown = page.locator(".opblock").count()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "api-docs.png"), full_page=True)

    assert shown == operations > 20
    assert errors == []
    assert hosts == {f"127.0.0.1:{server.port}"}
