"""accounts/authentication.py: JWTs are checked without the database, and every bad one is a 401."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.models import TokenUser
from rest_framework_simplejwt.tokens import AccessToken

from accounts.authentication import RevocableJWTAuthentication
from tests.helpers import PROTECTED_URL, assert_json_401, from_epoch, seconds_ago, token_clock


def authenticate(header: str):
    request = Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=header))
    return RevocableJWTAuthentication().authenticate(request)


def bearer(token) -> str:
    return f"Bearer {token}"


def resigned(access: str, key: str = None, **changes) -> str:
    """The token's claims with `changes` applied (a value of None drops the claim), signed again."""
    claims = jwt.decode(access, options={"verify_signature": False})
    claims.update(changes)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key or settings.SECRET_KEY, algorithm="HS256")


def expiry_of(access: str):
    return from_epoch(AccessToken(access)["exp"])


def get_with(client, header: str):
    client.credentials(HTTP_AUTHORIZATION=header)
    return client.get(PROTECTED_URL)


# --- No SQL per request -----------------------------------------------------------------------


def test_authentication_costs_no_query_once_the_revocation_hash_is_loaded(alice, django_assert_num_queries):
    with CaptureQueriesContext(connection) as first:
        authenticate(bearer(alice.tokens["access"]))
    assert len(first) > 0  # the hash was built from the database
    with django_assert_num_queries(0):
        user, token = authenticate(bearer(alice.tokens["access"]))
    assert token["jti"] == AccessToken(alice.tokens["access"])["jti"]


def test_rejecting_a_revoked_token_costs_no_query_either(alice, django_assert_num_queries):
    alice.post("/api/auth/logout/")
    with pytest.raises(InvalidToken):
        authenticate(bearer(alice.tokens["access"]))
    with django_assert_num_queries(0), pytest.raises(InvalidToken):
        authenticate(bearer(alice.tokens["access"]))


def test_the_authenticated_user_comes_from_the_token_with_an_integer_id(alice, django_assert_num_queries):
    authenticate(bearer(alice.tokens["access"]))
    with django_assert_num_queries(0):
        user, _ = authenticate(bearer(alice.tokens["access"]))
        assert isinstance(user, TokenUser)
        assert user.id == alice.user.pk
        assert user.is_authenticated


# --- Bad tokens -------------------------------------------------------------------------------


def test_an_expired_access_token_is_401(alice):
    past = int((seconds_ago(60)).timestamp())
    assert_json_401(get_with(alice, bearer(resigned(alice.tokens["access"], exp=past))))


def test_an_access_token_is_401_once_its_lifetime_has_passed(alice):
    with token_clock(expiry_of(alice.tokens["access"]) + timedelta(seconds=1)):
        assert_json_401(get_with(alice, bearer(alice.tokens["access"])))


def test_an_access_token_is_accepted_until_its_lifetime_has_passed(alice):
    with token_clock(expiry_of(alice.tokens["access"]) - timedelta(seconds=5)):
        assert get_with(alice, bearer(alice.tokens["access"])).status_code == 200


def test_a_token_signed_with_another_key_is_401(alice):
    assert_json_401(get_with(alice, bearer(resigned(alice.tokens["access"], key="not-the-server-key" * 3))))


def test_a_token_with_an_unsigned_algorithm_is_401(alice):
    claims = jwt.decode(alice.tokens["access"], options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert_json_401(get_with(alice, bearer(unsigned)))


def test_a_refresh_token_used_as_bearer_is_401(alice):
    assert_json_401(get_with(alice, bearer(alice.tokens["refresh"])))


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"iat": None}, id="no-iat"),
        pytest.param({"iat": "yesterday"}, id="non-numeric-iat"),
        pytest.param({"user_id": "alice"}, id="non-numeric-user-id"),
        pytest.param({"user_id": None}, id="no-user-id"),
        pytest.param({"jti": None}, id="no-jti"),
        pytest.param({"token_type": None}, id="no-token-type"),
    ],
)
def test_a_correctly_signed_token_with_bad_claims_is_401(alice, changes):
    assert_json_401(get_with(alice, bearer(resigned(alice.tokens["access"], **changes))))


@pytest.mark.parametrize(
    "header",
    [
        pytest.param("Bearer", id="no-token"),
        pytest.param("Bearer  ", id="blank-token"),
        pytest.param("Bearer a b", id="three-parts"),
        pytest.param("Bearer not-a-jwt", id="garbage"),
        pytest.param("Bearer a.b.c", id="garbage-segments"),
        pytest.param("Token {access}", id="wrong-scheme"),
        pytest.param("{access}", id="no-scheme"),
        pytest.param("Bearer {access}x", id="tampered-signature"),
    ],
)
def test_a_malformed_authorization_header_is_401(alice, header):
    assert_json_401(get_with(alice, header.format(access=alice.tokens["access"])))


def test_no_authorization_header_is_401_with_a_bearer_challenge(anon):
    response = anon.get(PROTECTED_URL)
    assert_json_401(response)
    assert response["WWW-Authenticate"].startswith("Bearer")


# --- A token verified once per process ----------------------------------------------------------


@pytest.fixture
def signature_checks(monkeypatch) -> list:
    """One item per JWT whose signature is checked (PyJWT's decode)."""
    calls, real = [], jwt.api_jws.PyJWS._verify_signature
    monkeypatch.setattr(
        jwt.api_jws.PyJWS, "_verify_signature", lambda *args, **kw: calls.append(1) or real(*args, **kw)
    )
    return calls


def test_a_token_is_verified_once_and_its_expiry_is_checked_on_every_use(alice, signature_checks):
    for _ in range(3):
        assert authenticate(bearer(alice.tokens["access"])) is not None
    assert len(signature_checks) <= 1  # none when an earlier request of the test verified it
    with token_clock(expiry_of(alice.tokens["access"]) + timedelta(seconds=1)), pytest.raises(InvalidToken) as caught:
        authenticate(bearer(alice.tokens["access"]))
    assert "expired" in str(caught.value.detail["messages"][0]["message"])


def test_a_token_that_fails_a_check_is_not_kept_and_fails_every_time(alice, signature_checks):
    forged = resigned(alice.tokens["access"], key="not-the-server-key" * 3)
    for attempt in range(1, 4):
        with pytest.raises(InvalidToken):
            authenticate(bearer(forged))
        assert len(signature_checks) == attempt
