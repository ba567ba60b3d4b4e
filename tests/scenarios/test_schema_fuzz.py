"""Every operation of the OpenAPI document, fuzzed by schemathesis with a real user's token: no
answer is a 5xx, and every answer is one the document describes (status code, content type, body).

The Django app is called in-process through WSGI, inside the test's transaction, so this runs in
the unit run (SQLite + fakeredis) and against the real servers alike. Two passes per operation:
schemathesis' boundary cases (its "coverage" phase: limits, missing and wrong-typed fields, wrong
content types, unexpected methods), and random cases whose ids often name the user's own objects.
"""

from collections import Counter

import pytest
import schemathesis
from django.contrib.auth.tokens import default_token_generator
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework.throttling import SimpleRateThrottle
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from content.models import Category, Content
from content.services import category_create, content_create
from decks.models import ImportJob
from review.models import ReviewSchedule
from review.services import review_complete
from tests.helpers import DEFAULT_PASSWORD

NEW_PASSWORD = "another long enough passphrase 8"

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def load_schema(*phases: str):
    config = schemathesis.Config.from_dict(
        {
            "phases": {phase: {"enabled": phase in phases} for phase in ("examples", "coverage", "fuzzing")},
            # Note: every request carries the real user's token; made-up bearer tokens would only
            # ever meet the 401 path, which tests/accounts covers.
            "generation": {"with-security-parameters": False},
        }
    )
    return schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler(), config=config)


boundaries = load_schema("coverage")
# Note: schemathesis runs its coverage phase only for tests without @given, hence two schemas.
fuzzing = load_schema("examples", "fuzzing")

# Note: derandomized, so CI runs the same cases every time and a failure reproduces locally
# (raise max_examples to explore more). Examples of one operation share the fixtures on purpose:
# one user, whose data earlier examples have changed, as a real client's would be.
fuzz_settings = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# What an id names, by path and by body field.
PATH_IDS = {
    "/api/content/{id}/": ("id", "content"),
    "/api/content/categories/{id}/": ("id", "category"),
    "/api/review/schedules/{id}/": ("id", "schedule"),
    "/api/imports/{job_id}/": ("job_id", "import"),
}
BODY_IDS = {"content_id": "content", "category_id": "category"}


@pytest.fixture
def in_test_transaction():
    """Django's WSGI handler closes the database connection when a request starts and ends,
    which would end the test's transaction; Django's test client unhooks it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def high_rates(monkeypatch):
    # Note: DRF reads the rates once at import; a 429 would hide the paths behind it.
    for scope in ("anon", "user", "auth", "imports"):
        monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, scope, "1000000/s")


class Fuzzer:
    """Calls the app as one user, with a fresh token each time, and counts the status classes."""

    def __init__(self, user, capture_on_commit):
        self.user, self.capture_on_commit = user, capture_on_commit
        self.ids = {
            "category": list(Category.objects.filter(owner=user).values_list("id", flat=True)),
            "content": list(Content.objects.filter(owner=user).values_list("id", flat=True)),
            "schedule": list(ReviewSchedule.objects.filter(owner=user).values_list("id", flat=True)),
            "import": [str(pk) for pk in ImportJob.objects.filter(owner=user).values_list("id", flat=True)],
        }
        self.statuses = Counter()

    def call_and_validate(self, case) -> None:
        # Note: a fresh token per request, so that fuzzing logout does not lock the rest out.
        headers = {"Authorization": f"Bearer {RefreshToken.for_user(self.user).access_token}"}
        # On-commit hooks (cache invalidation) run as after a real request's commit.
        with self.capture_on_commit(execute=True):
            response = case.call(headers=headers)
        self.statuses[response.status_code // 100] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)


@pytest.fixture
def fuzzer(make_user, in_test_transaction, high_rates, django_capture_on_commit_callbacks, settings) -> Fuzzer:
    """A user with categories, cards and schedules, so that ids can name real objects. Imports
    are queued in this process (no broker traffic); their jobs, never committed, do nothing."""
    settings.JOBS_IN_PROCESS = True
    user = make_user("fuzzer")
    categories = [category_create(owner_id=user.id, name=name) for name in ("Math", "Lang")]
    cards = [
        content_create(owner_id=user.id, title=f"card {n}", body="text", category_id=categories[n % 2].id)
        for n in range(4)
    ]
    for card in cards[:2]:  # answers an undo can take back
        review_complete(user_id=user.id, content_id=card.id, result="good")
    ImportJob.objects.create(owner=user, filename="deck.csv", format="csv", state=ImportJob.SUCCEEDED)
    return Fuzzer(user, django_capture_on_commit_callbacks)


def aim_at_own_objects(case, data, fuzzer: Fuzzer) -> None:
    """Mostly, an id names one of the user's objects (a random id is nearly always a 404,
    which would leave the paths behind it untested), and the credentials are the user's."""
    parameter, kind = PATH_IDS.get(case.path, (None, None))
    # Note: three times in four, so that an operation's few examples reach its success path.
    if kind and data.draw(st.integers(0, 3)):
        case.path_parameters[parameter] = data.draw(st.sampled_from(fuzzer.ids[kind]))
    if not isinstance(case.body, dict):
        return
    if case.path == "/api/imports/" and data.draw(st.booleans()):
        case.body["file"] = b"front,back\nfuzzed,card\n"
    for field, kind in BODY_IDS.items():
        if field in case.body and data.draw(st.booleans()):
            case.body[field] = data.draw(st.sampled_from(fuzzer.ids[kind]))
    if case.path == "/api/auth/register/" and data.draw(st.booleans()):
        # Note: a valid password is rare among drawn strings (Hypothesis draws from identifiers of
        # the code, so which ones it meets moved with every rename); half the time, a good one.
        case.body.update(username=f"fuzzed{data.draw(st.integers(0, 10**9))}", password="a long enough passphrase 7")
    if case.path == "/api/auth/token/" and data.draw(st.booleans()):
        case.body.update(username=fuzzer.user.username, password=DEFAULT_PASSWORD)
    if "refresh" in case.body and data.draw(st.booleans()):
        case.body["refresh"] = str(RefreshToken.for_user(fuzzer.user))
    aim_at_own_account(case, data, fuzzer)


def aim_at_own_account(case, data, fuzzer: Fuzzer) -> None:
    """Half the time, the password calls and the deletion get what they need to succeed, and only
    that (they refuse fields they do not take): the user's password, a good new one, a reset token
    that is the user's."""
    if not data.draw(st.booleans()):
        return
    if case.path == "/api/auth/me/" and case.method.upper() == "DELETE":
        case.body = {"password": DEFAULT_PASSWORD}
    if case.path == "/api/auth/password/change/":
        case.body = {"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD}
    if case.path == "/api/auth/password/reset/confirm/":
        uid = urlsafe_base64_encode(force_bytes(fuzzer.user.pk))
        token = default_token_generator.make_token(fuzzer.user)
        case.body = {"uid": uid, "token": token, "new_password": NEW_PASSWORD}


@boundaries.parametrize()
@fuzz_settings
def test_boundary_input_gives_a_documented_answer_never_a_5xx(case, fuzzer):
    fuzzer.call_and_validate(case)


@pytest.fixture
def reaches_success(fuzzer):
    """After all examples of an operation: its success path ran at least once with the user's
    token, so the fuzz proved more than that 400s, 401s and 404s are documented."""
    yield
    assert fuzzer.statuses[2], f"no 2xx answer among {dict(fuzzer.statuses)} (status classes)"


@fuzzing.parametrize()
@fuzzing.given(data=st.data())
@fuzz_settings
def test_random_input_gives_a_documented_answer_never_a_5xx(case, data, fuzzer, reaches_success):
    aim_at_own_objects(case, data, fuzzer)
    fuzzer.call_and_validate(case)
