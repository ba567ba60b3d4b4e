"""Logout is seen by every server process: other Python processes, sharing only Redis and
PostgreSQL with this one, accept the token before the logout and reject it after; so do all
the workers of a gunicorn."""

import subprocess
import sys

import pytest
from django.conf import settings

from tests.servers import GunicornServer, app_env

CHECK_TOKEN = """
import sys, django
django.setup()
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework_simplejwt.exceptions import InvalidToken
from accounts.authentication import RevocableJWTAuthentication
request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION="Bearer " + sys.argv[1]))
try:
    RevocableJWTAuthentication().authenticate(request)
    print("accepted")
except InvalidToken:
    print("rejected")
"""


def verdict_of_another_process(access: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", CHECK_TOKEN, access],
        env=app_env(),
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_logged_out_token_is_rejected_by_every_other_process(make_client):
    alice = make_client("alice")
    access = alice.tokens["access"]
    assert verdict_of_another_process(access) == "accepted"

    assert alice.post("/api/auth/logout/").status_code == 204

    assert verdict_of_another_process(access) == "rejected"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_logout_served_by_one_gunicorn_worker_is_enforced_by_every_worker(make_client, tmp_path):
    token = make_client("alice").tokens["access"]
    path = "/api/content/categories/"
    with GunicornServer(tmp_path, app_env(THROTTLE_USER_RATE="100000/min"), workers=2) as server:
        before = server.on_every_worker("GET", path, token=token)
        assert server.request("POST", "/api/auth/logout/", token=token, body="{}")[0] == 204
        after = server.on_every_worker("GET", path, token=token)
    assert set(before) == {200}
    assert set(after) == {401}, "every worker must reject the logged-out token"
