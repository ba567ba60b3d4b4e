"""The learners' web app at `/`, driven in headless Chromium as a learner would, against the app
served by `manage.py runserver` as `make run` starts it: the browser's own network log says what
each step cost and that nothing left the origin."""

import re

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from content.services import content_create
from tests.helpers import DEFAULT_PASSWORD, set_learner
from tests.servers import ARTIFACTS, RunServer, app_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
SHOTS = [("desktop", DESKTOP, "light"), ("phone", PHONE, "light"), ("phone-dark", PHONE, "dark")]
DECK = "front,back,category\nhola,hello,Spanish\ngracias,thank you,Spanish\nGrüezi,hello (Swiss),German\n"
TIMEOUT_MS = 15_000
# Controls a screen reader would announce without a name: no label, no aria-label, no text.
UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => !el.closest('[hidden]'))
    .filter((el) => !(el.labels?.length || el.getAttribute('aria-label') || el.textContent.trim()))
    .map((el) => el.outerHTML)"""


class Browsing:
    """One page of the app and what the browser saw: every request with its response's status
    and X-Cache header, console errors and uncaught exceptions."""

    def __init__(self, browser, origin: str):
        """`browser`: a Browser (a page of its own context) or a BrowserContext (sharing its cookies)."""
        self.origin = origin
        self.page = browser.new_page()
        self.page.set_viewport_size(DESKTOP)
        self.page.set_default_timeout(TIMEOUT_MS)
        self.requests: list[dict] = []
        self.errors: list[str] = []
        self.unlabelled: list[str] = []
        self.page.on("request", lambda request: self.requests.append({"method": request.method, "url": request.url}))
        self.page.on("response", self._answered)
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _answered(self, response) -> None:
        for entry in reversed(self.requests):
            if entry["url"] == response.url and "status" not in entry:
                entry.update(status=response.status, x_cache=response.headers.get("x-cache"))
                return

    def api_calls(self, since: int = 0) -> list[tuple[str, str]]:
        return [
            (entry["method"], entry["url"].removeprefix(self.origin).split("?")[0])
            for entry in self.requests[since:]
            if entry["url"].startswith(f"{self.origin}/api/")
        ]

    def go(self, screen: str, heading: str) -> None:
        self.page.goto(f"{self.origin}/#/{screen}")
        self.page.get_by_role("heading", level=1, name=heading).wait_for()

    def snap(self, name: str) -> None:
        """The screen as it is, at desktop and at phone width, light, and at phone width, dark."""
        self.unlabelled += self.page.evaluate(UNLABELLED)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for label, size, scheme in SHOTS:
            self.page.set_viewport_size(size)
            self.page.emulate_media(color_scheme=scheme)
            self.page.screenshot(path=str(ARTIFACTS / f"webapp-{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(DESKTOP)
        self.page.emulate_media(color_scheme="light")

    def sign_up(self, username: str) -> None:
        self.page.goto(f"{self.origin}/")
        self.snap("sign-in")
        self.page.fill("#up-username", username)
        self.page.fill("#up-email", f"{username}@example.com")
        self.page.fill("#up-password", DEFAULT_PASSWORD)
        self.page.click("button:has-text('Sign up')")
        self.page.get_by_role("heading", level=1, name="Review").wait_for()


@pytest.fixture
def server(tmp_path):
    # Note: jobs in a thread of the server, as under `make run`, so no worker or broker is needed.
    with RunServer(tmp_path, app_env(JOBS_IN_PROCESS="1")) as running:
        yield running


def origin_of(server) -> str:
    return f"http://127.0.0.1:{server.port}"


def sign_in(app: Browsing, identifier: str) -> None:
    app.page.goto(f"{app.origin}/")
    app.page.fill("#in-username", identifier)
    app.page.fill("#in-password", DEFAULT_PASSWORD)
    app.page.click("button:has-text('Sign in')")
    app.page.wait_for_selector("#left")


def import_deck(app: Browsing, tmp_path) -> None:
    deck = tmp_path / "deck.csv"
    deck.write_text(DECK, encoding="utf-8")
    app.go("decks", "Decks")
    app.page.set_input_files("#deck-file", str(deck))
    app.page.click("button:has-text('Import')")
    app.page.wait_for_selector("#import-report:has-text('succeeded')")
    assert app.page.locator("#import-progress").evaluate("bar => [bar.value, bar.max]") == [3, 3]
    app.snap("decks")


def export_csv(app: Browsing) -> str:
    app.go("decks", "Decks")
    with app.page.expect_download() as download:
        app.page.click("button:has-text('Download CSV')")
    return download.value.path().read_text(encoding="utf-8")


def edit_card(app: Browsing, title: str, new_title: str, new_body: str) -> None:
    app.go("cards", "Cards")
    app.page.wait_for_selector("#card-count:has-text('3 cards')")
    app.page.get_by_role("button", name=f"Edit {title}", exact=True).click()
    app.page.fill("#card-title-input", new_title)
    app.page.fill("#card-body-input", new_body)
    app.page.click("#card-editor button[type=submit]")
    app.page.wait_for_selector(f".card-row:has-text('{new_title}')")


def pause_card(app: Browsing, title: str) -> None:
    app.page.get_by_role("button", name=f"Schedule of {title}", exact=True).click()
    app.page.get_by_role("button", name="Pause", exact=True).click()
    app.page.wait_for_selector(f"#status:has-text('Paused \"{title}\"')")


def review_all(app: Browsing) -> list[tuple[str, str]]:
    """Every due card answered with the keyboard; the (front, back) pairs seen."""
    app.go("review", "Review")
    seen = []
    while app.page.locator("#card-title").count():
        front = app.page.inner_text("#card-title")
        left = int(app.page.inner_text("#left").split()[0])
        if not seen:
            app.snap("review-front")
        app.page.keyboard.press(" ")
        app.page.wait_for_selector("#card-body:visible")
        seen.append((front, app.page.inner_text("#card-body")))
        if len(seen) == 1:
            app.snap("review-back")
        app.page.keyboard.press("3")
        app.page.wait_for_function(
            "([front, left]) => !document.querySelector('#card-title') || "
            "document.querySelector('#left').textContent !== `${left} left today`",
            arg=[front, left],
        )
    app.page.wait_for_selector("#left:has-text('Nothing left to review today')")
    app.snap("review-done")
    return seen


def test_a_learner_signs_up_imports_a_deck_edits_pauses_reviews_everything_and_sees_the_statistics(
    chromium, server, tmp_path
):
    app = Browsing(chromium, origin_of(server))
    app.sign_up("learner")
    import_deck(app, tmp_path)
    edit_card(app, "hola", "hola!", "hello, informally")
    pause_card(app, "gracias")
    app.page.get_by_role("button", name="Schedule of gracias", exact=True).click()
    resume = app.page.get_by_role("button", name="Resume", exact=True)
    resume.wait_for()
    paused_state = app.page.inner_text("#card-editor")
    resume.click()
    app.page.wait_for_selector("#status:has-text('Resumed \"gracias\"')")
    pause_card(app, "gracias")
    app.page.fill("#filter-search", "hello")
    app.page.wait_for_selector("#card-count:has-text('2 cards')")
    app.snap("cards")

    before_review = len(app.requests)
    seen = review_all(app)
    review_calls = app.api_calls(before_review)
    review_answers = [entry for entry in app.requests[before_review:] if "/api/review/" in entry["url"]]

    app.go("stats", "Statistics")
    summary = app.page.inner_text("#summary")
    by_category = app.page.inner_text("#by-category")
    bars = app.page.locator("#reviews-chart rect").count()
    app.snap("stats")
    exported = export_csv(app)
    app.go("account", "Account")
    app.snap("account")

    assert 'hola!,"hello, informally",Spanish' in exported.splitlines()
    assert "Paused: it is never due until resumed." in paused_state
    assert sorted(seen) == [("Grüezi", "hello (Swiss)"), ("hola!", "hello, informally")]
    # One read of today's list for the page, one write per answer, and one read that finds it empty.
    assert review_calls == [
        ("GET", "/api/review/today/"),
        ("POST", "/api/review/complete/"),
        ("POST", "/api/review/complete/"),
        ("GET", "/api/review/today/"),
    ]
    for entry in review_answers:
        if entry["method"] == "GET":
            assert entry["status"] == 304 or entry["x_cache"] in ("HIT", "MISS"), entry
        else:
            assert entry["status"] == 200, entry
    assert re.search(r"Reviewed today\s+2", summary), summary
    assert re.search(r"German\s+1\s+100%", by_category) and re.search(r"Spanish\s+1\s+100%", by_category), by_category
    assert bars == 30
    assert app.errors == []
    assert app.unlabelled == []
    assert {entry["url"].split("/")[2] for entry in app.requests} == {f"127.0.0.1:{server.port}"}


@pytest.fixture
def learner(make_user):
    user = make_user("reader", email="reader@example.com")
    # Note: hashed as the server process hashes (the tests' own MD5 hasher is not in its settings).
    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(DEFAULT_PASSWORD, hasher.salt())
    user.save(update_fields=["password"])
    return user


def test_a_learner_signed_in_by_email_stays_signed_in_across_a_reload_and_signs_out(learner, chromium, server):
    app = Browsing(chromium, origin_of(server))
    sign_in(app, "Reader@Example.com")
    signed_in = app.api_calls()
    cookie = next(c for c in app.page.context.cookies() if c["name"] == "resee_refresh")

    app.page.reload()
    app.page.get_by_role("heading", level=1, name="Review").wait_for()
    reloaded = app.api_calls()[-2:]
    app.go("account", "Account")
    shown = app.page.inner_text("main")
    app.page.click("#sign-out")
    app.page.get_by_role("heading", level=1, name=re.compile("Resee")).wait_for()
    app.page.reload()
    app.page.get_by_role("heading", level=1, name=re.compile("Resee")).wait_for()

    assert signed_in == [("POST", "/api/auth/token/"), ("GET", "/api/review/today/")]
    assert (cookie["httpOnly"], cookie["path"], cookie["sameSite"]) == (True, "/api/auth/", "Strict")
    assert "access" not in app.page.evaluate("JSON.stringify(localStorage)")
    assert reloaded == [("POST", "/api/auth/token/refresh/"), ("GET", "/api/review/today/")]
    assert "reader@example.com" in shown
    assert not [c for c in app.page.context.cookies() if c["name"] == "resee_refresh"]
    assert app.errors == []


def test_a_learner_changes_the_password_resets_it_from_the_mail_and_deletes_the_account(chromium, tmp_path):
    # Note: DEBUG on, as under `make run`: the reset mail is printed in the server's log.
    with RunServer(tmp_path, app_env(DEBUG="1")) as server:
        app = Browsing(chromium, origin_of(server))
        app.sign_up("changer")
        app.go("account", "Account")
        app.page.fill("#pw-current", DEFAULT_PASSWORD)
        app.page.fill("#pw-new", "a-second-password-7")
        app.page.click("button:has-text('Change password')")
        app.page.wait_for_selector("#status:has-text('Password changed')")
        app.page.reload()
        app.page.get_by_role("heading", level=1, name="Account").wait_for()
        app.page.click("#sign-out")

        app.page.click("summary:has-text('Forgot your password?')")
        app.page.fill("#forgot-email", "changer@example.com")
        app.page.click("button:has-text('Mail me a reset link')")
        app.page.wait_for_selector("#status:has-text('reset link is on its way')")
        mail = re.search(r"uid: (\S+)\s+token: (\S+)", server.log_path.read_text())
        app.page.goto(f"{app.origin}/#/reset/{mail[1]}/{mail[2]}")
        app.page.get_by_role("heading", level=1, name="Choose a new password").wait_for()
        app.snap("reset")
        app.page.fill("#reset-password", "a-third-password-5")
        app.page.click("button:has-text('Set password')")
        app.page.wait_for_selector("main:has-text('Password set')")

        app.page.goto(f"{app.origin}/")
        app.page.fill("#in-username", "changer")
        app.page.fill("#in-password", "a-third-password-5")
        app.page.click("button:has-text('Sign in')")
        app.go("account", "Account")
        app.page.fill("#del-password", "a-third-password-5")
        app.page.once("dialog", lambda dialog: dialog.accept())
        app.page.click("button:has-text('Delete my account')")
        app.page.get_by_role("heading", level=1, name=re.compile("Resee")).wait_for()
        body = '{"username": "changer", "password": "a-third-password-5"}'
        status_after, _, _ = server.request("POST", "/api/auth/token/", body=body)

    assert status_after == 401
    assert app.errors == []


@pytest.fixture
def learner_with_cards(learner):
    # Note: more than a page of new cards, all due today: the default new-card limit (20) would
    # hold five of them back for tomorrow.
    set_learner(learner, new_cards_per_day=25)
    for n in range(25):
        content_create(owner_id=learner.id, title=f"card {n:02}", body=f"back {n:02}")
    return learner


def test_a_learner_reviews_more_than_a_page_reading_each_page_once_then_keeps_cards_and_categories(
    learner_with_cards, chromium, server
):
    app = Browsing(chromium, origin_of(server))
    sign_in(app, "reader")
    seen = review_all(app)
    calls = app.api_calls()

    app.go("cards", "Cards")
    app.page.click(".pager button:has-text('Next')")
    app.page.wait_for_selector(".pager:has-text('Page 2 of 2')")
    last_page = app.page.locator(".card-row").count()
    app.page.select_option("#filter-ordering", label="Title Z-A")
    app.page.wait_for_selector(".pager:has-text('Page 1 of 2')")
    first_by_title = app.page.inner_text(".card-row strong >> nth=0")
    app.page.fill("#new-category", "Verbs")
    app.page.click("button:has-text('Add category')")
    app.page.wait_for_selector("#category-list:has-text('Verbs')")
    app.page.click("#new-card")
    app.page.fill("#card-title-input", "ser")
    app.page.fill("#card-body-input", "to be")
    app.page.select_option("#card-category", label="Verbs")
    app.page.click("#card-editor button[type=submit]")
    app.page.wait_for_selector("#card-count:has-text('26 cards')")
    app.page.select_option("#filter-category", label="Verbs")
    app.page.wait_for_selector("#card-count:has-text('1 card')")
    app.page.once("dialog", lambda dialog: dialog.accept())
    app.page.get_by_role("button", name="Delete ser", exact=True).click()
    app.page.wait_for_selector("#card-count:has-text('0 cards')")
    app.page.once("dialog", lambda dialog: dialog.accept())
    app.page.get_by_role("button", name="Delete category Verbs", exact=True).click()
    app.page.wait_for_selector("#category-list li", state="detached")

    assert sorted(seen) == [(f"card {n:02}", f"back {n:02}") for n in range(25)]
    complete = ("POST", "/api/review/complete/")
    read = ("GET", "/api/review/today/")
    assert calls[1:] == [read, *[complete] * 20, read, *[complete] * 5, read]
    assert last_page == 5
    assert first_by_title == "card 24"
    assert app.errors == []


def test_a_tab_whose_access_token_was_revoked_refreshes_from_the_cookie_and_carries_on(learner, chromium, server):
    context = chromium.new_context()
    first, second = Browsing(context, origin_of(server)), Browsing(context, origin_of(server))
    sign_in(first, "reader")
    second.go("cards", "Cards")
    first.go("account", "Account")
    first.page.fill("#pw-current", DEFAULT_PASSWORD)
    first.page.fill("#pw-new", "a-second-password-7")
    first.page.click("button:has-text('Change password')")
    first.page.wait_for_selector("#status:has-text('Password changed')")
    before = len(second.requests)
    second.go("stats", "Statistics")

    stats = ("GET", "/api/analytics/stats/")
    assert second.api_calls(before) == [stats, ("POST", "/api/auth/token/refresh/"), stats]
    assert [entry["status"] for entry in second.requests[before:]] == [401, 200, 200]
    # The browser reports the refused call itself; the app raises nothing.
    assert [line for line in second.errors if "status of 401" not in line] == []
    assert first.errors == []


@pytest.fixture
def learner_with_three_cards(learner):
    for title in ("uno", "dos", "tres"):
        content_create(owner_id=learner.id, title=title, body=f"{title}, in English")
    return learner


def test_a_learner_moves_to_fsrs_sees_when_each_grade_brings_a_card_back_and_undoes_a_grade(
    learner_with_three_cards, chromium, server
):
    app = Browsing(chromium, origin_of(server))
    sign_in(app, "reader")
    app.go("settings", "Settings")
    retention_hidden = app.page.locator("#set-desired_retention").is_hidden()
    app.page.select_option("#set-scheduler", "fsrs")
    app.page.fill("#set-desired_retention", "0.85")
    app.page.fill("#set-time_zone", "Asia/Seoul")
    app.page.fill("#set-day_starts_at_hour", "3")
    app.page.click("button:has-text('Save settings')")
    app.page.wait_for_selector("#status:has-text('Settings saved')")
    app.snap("settings")
    app.page.fill("#set-day_starts_at_hour", "24")
    app.page.click("button:has-text('Save settings')")
    refused = app.page.evaluate("document.getElementById('set-day_starts_at_hour').validity.valid")

    app.go("review", "Review")
    first = app.page.inner_text("#card-title")
    app.page.keyboard.press(" ")
    app.page.wait_for_selector("#answers:visible")
    previews = app.page.locator("#answers .preview").all_inner_texts()
    app.snap("review-grades")
    before = len(app.requests)
    app.page.keyboard.press("3")
    app.page.wait_for_function("(first) => document.querySelector('#card-title')?.textContent !== first", arg=first)
    after_good = app.page.inner_text("#left")
    app.page.keyboard.press("z")
    app.page.wait_for_selector("#status:has-text('Took back')")
    back = app.page.inner_text("#card-title")
    left_after_undo = app.page.inner_text("#left")
    calls = app.api_calls(before)

    assert retention_hidden
    assert not refused
    assert len(previews) == 4 and all(re.fullmatch(r"\d+(\.\d)?(m|h|d|mo|y)", text) for text in previews), previews
    assert previews[0].endswith("m")  # a new card forgotten comes back within minutes
    assert after_good == "2 left today"  # good sends a new card to its next learning step, minutes away
    assert back == first and left_after_undo == "3 left today"
    assert calls == [("POST", "/api/review/complete/"), ("POST", "/api/review/undo/"), ("GET", "/api/review/today/")]
    assert app.errors == []
    assert app.unlabelled == []
