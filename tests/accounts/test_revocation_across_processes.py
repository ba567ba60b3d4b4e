"""Logout is seen by every server process: other Python processes, sharing only Redis and
PostgreSQL with this one, accept the token before the logout and reject it after."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.db import connection

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
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "resee.settings",
        "SECRET_KEY": settings.SECRET_KEY,
        "REDIS_KEY_NAMESPACE": settings.REDIS_KEY_NAMESPACE,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    result = subprocess.run(
        [sys.executable, "-c", CHECK_TOKEN, access],
        env=env,
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
