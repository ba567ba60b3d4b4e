"""POST /api/auth/token/ (log in) and /api/auth/token/refresh/ (rotate)."""

import pytest
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import services
from accounts.models import RevokedToken
from tests.helpers import DEFAULT_PASSWORD, assert_json_401, refresh, run_in_threads, set_active, status_with

TOKEN_URL = "/api/auth/token/"
REFRESH_RACERS = 8


def obtain(client, username: str, password: str = DEFAULT_PASSWORD):
    return client.post(TOKEN_URL, {"username": username, "password": password})


# --- Obtain ---------------------------------------------------------------------------------


def test_login_returns_an_access_and_a_refresh_token_for_the_user(anon, make_user):
    user = make_user("carol")
    response = obtain(anon, "carol")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert int(AccessToken(body["access"])["user_id"]) == user.pk
    assert int(RefreshToken(body["refresh"])["user_id"]) == user.pk


def test_the_access_token_from_login_opens_a_protected_endpoint(anon, make_user):
    make_user("carol")
    assert status_with(anon, obtain(anon, "carol").json()["access"]) == 200


def test_login_with_a_wrong_password_is_401(anon, make_user):
    make_user("carol")
    assert_json_401(obtain(anon, "carol", "not-the-password-at-all"))


def test_login_as_an_unknown_user_is_401(anon):
    assert_json_401(obtain(anon, "nobody"))


def test_an_inactive_user_cannot_log_in(anon, make_user):
    make_user("carol", is_active=False)
    response = obtain(anon, "carol")
    assert_json_401(response)
    assert "access" not in response.json()


@pytest.mark.parametrize("body", [{}, {"username": "carol"}, {"password": DEFAULT_PASSWORD}])
def test_login_without_username_or_password_is_400(anon, make_user, body):
    make_user("carol")
    response = anon.post(TOKEN_URL, body)
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"} - set(body)


@pytest.mark.parametrize("identifier", ["carol@example.com", "CAROL@Example.COM"])
def test_login_with_the_email_in_any_case_signs_in_its_user(anon, make_user, identifier):
    user = make_user("carol", email="carol@example.com")
    response = obtain(anon, identifier)
    assert response.status_code == 200, response.content
    assert int(AccessToken(response.json()["access"])["user_id"]) == user.pk


def test_login_with_the_email_and_a_wrong_password_is_401(anon, make_user):
    make_user("carol", email="carol@example.com")
    assert_json_401(obtain(anon, "carol@example.com", "not-the-password-at-all"))


def test_login_with_an_email_no_account_has_is_401(anon, make_user):
    make_user("carol", email="carol@example.com")
    assert_json_401(obtain(anon, "someone@example.com"))


def test_a_username_with_an_at_sign_from_before_the_rule_still_signs_in(anon, make_user):
    user = make_user("old@name")
    response = obtain(anon, "old@name")
    assert response.status_code == 200, response.content
    assert int(AccessToken(response.json()["access"])["user_id"]) == user.pk


def test_an_identifier_that_is_one_users_email_and_anothers_username_is_the_email(anon, make_user):
    make_user("old@name")
    owner = make_user("carol", email="old@name")
    assert int(AccessToken(obtain(anon, "old@name").json()["access"])["user_id"]) == owner.pk


# --- Refresh --------------------------------------------------------------------------------


def test_refresh_returns_a_new_pair_with_a_different_refresh_token(alice):
    response = refresh(alice, alice.tokens["refresh"])
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh"}
    assert body["refresh"] != alice.tokens["refresh"]
    assert body["access"] != alice.tokens["access"]
    assert int(RefreshToken(body["refresh"])["user_id"]) == alice.user.pk


def test_the_refreshed_access_token_opens_a_protected_endpoint(alice):
    assert status_with(alice, refresh(alice, alice.tokens["refresh"]).json()["access"]) == 200


def test_the_rotated_refresh_token_can_itself_be_refreshed(alice):
    second = refresh(alice, alice.tokens["refresh"]).json()["refresh"]
    assert refresh(alice, second).status_code == 200


def test_reusing_a_spent_refresh_token_is_401(alice):
    assert refresh(alice, alice.tokens["refresh"]).status_code == 200
    assert_json_401(refresh(alice, alice.tokens["refresh"]))


def test_a_spent_refresh_token_is_recorded_durably(alice):
    refresh(alice, alice.tokens["refresh"])
    jti = RefreshToken(alice.tokens["refresh"])["jti"]
    assert RevokedToken.objects.filter(jti=jti, token_type=RevokedToken.REFRESH, user_id=alice.user.pk).exists()


@pytest.mark.parametrize("garbage", ["garbage", "a.b.c", "eyJhbGciOiJIUzI1NiJ9.e30.invalid"])
def test_refreshing_with_a_garbage_token_is_401(anon, garbage):
    assert_json_401(refresh(anon, garbage))


def test_an_access_token_passed_as_refresh_is_401(alice):
    assert_json_401(refresh(alice, alice.tokens["access"]))
    assert not RevokedToken.objects.exists()


def test_refresh_without_a_token_is_400(anon):
    response = anon.post("/api/auth/token/refresh/", {})
    assert response.status_code == 400
    assert "refresh" in response.json()


def test_refresh_with_an_expired_refresh_token_is_401(alice):
    token = RefreshToken(alice.tokens["refresh"])
    token["exp"] = token["iat"] - 1
    assert_json_401(refresh(alice, str(token)))


def test_refresh_after_the_user_was_deactivated_is_401(alice, django_capture_on_commit_callbacks):
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    assert_json_401(refresh(alice, alice.tokens["refresh"]))


def test_refresh_after_the_user_was_deleted_is_401(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice.user.delete()
    assert_json_401(refresh(alice, alice.tokens["refresh"]))


def test_a_refresh_token_from_before_deactivation_stays_dead_after_reactivation(
    alice, django_capture_on_commit_callbacks
):
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    set_active(alice.user, True, django_capture_on_commit_callbacks)
    assert_json_401(refresh(alice, alice.tokens["refresh"]))


@pytest.mark.integration
def test_of_simultaneous_refreshes_with_one_token_exactly_one_succeeds(transactional_db, make_user):
    """On PostgreSQL, each thread in its own connection and transaction: the unique row decides."""
    raw = str(RefreshToken.for_user(make_user("racer")))
    outcomes: list[str] = []

    def attempt():
        try:
            services.token_refresh(raw_refresh=raw)
            outcomes.append("rotated")
        except InvalidToken:
            outcomes.append("refused")

    assert run_in_threads(REFRESH_RACERS, attempt) == []
    assert sorted(outcomes) == ["refused"] * (REFRESH_RACERS - 1) + ["rotated"]
    assert RevokedToken.objects.filter(jti=RefreshToken(raw)["jti"]).count() == 1
