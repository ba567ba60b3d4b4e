"""The browser session (accounts.cookies): the refresh token in an HttpOnly cookie, read by
refresh and logout from trusted origins only, rotated on each refresh; and refresh-token families:
a refresh token presented twice ends every session of its sign-in."""

import pytest
from django.test import override_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import RevokedFamily
from tests.helpers import DEFAULT_PASSWORD, assert_json_401, refresh, status_with

TOKEN = "/api/auth/token/"
REFRESH = "/api/auth/token/refresh/"
LOGOUT = "/api/auth/logout/"
COOKIE = "resee_refresh"
OWN = "http://testserver"
APP = "https://app.example"
EVIL = "https://evil.example"


def cookie_login(client, origin: str = OWN, username: str = "carol"):
    body = {"username": username, "password": DEFAULT_PASSWORD, "session": "cookie"}
    return client.post(TOKEN, body, HTTP_ORIGIN=origin)


def cookie_refresh(client, origin: str = OWN):
    return client.post(REFRESH, {}, HTTP_ORIGIN=origin)


@pytest.fixture
def carol(anon, make_user):
    """A browser signed in as carol: its cookie jar holds the refresh cookie."""
    make_user("carol")
    response = cookie_login(anon)
    assert response.status_code == 200, response.content
    anon.access = response.json()["access"]
    return anon


def test_a_cookie_login_answers_only_the_access_token_and_sets_a_strict_http_only_cookie(carol):
    cookie = carol.cookies[COOKIE]
    assert cookie["httponly"] and cookie["secure"]
    assert (cookie["samesite"], cookie["path"]) == ("Strict", "/api/auth/")
    assert int(cookie["max-age"]) == 7 * 24 * 3600
    assert status_with(carol, carol.access) == 200


def test_the_login_answer_of_a_cookie_session_holds_no_refresh_token(anon, make_user):
    make_user("carol")
    assert set(cookie_login(anon).json()) == {"access"}


def test_the_cookie_is_not_secure_only_when_the_settings_say_so(anon, make_user):
    make_user("carol")
    with override_settings(REFRESH_COOKIE_SECURE=False):
        assert not cookie_login(anon).cookies[COOKIE]["secure"]


@pytest.mark.parametrize("origin", [EVIL, APP, None])
def test_a_cookie_login_from_an_untrusted_or_unnamed_origin_is_403_and_sets_no_cookie(anon, make_user, origin):
    make_user("carol")
    body = {"username": "carol", "password": DEFAULT_PASSWORD, "session": "cookie"}
    response = anon.post(TOKEN, body, **({"HTTP_ORIGIN": origin} if origin else {}))
    assert response.status_code == 403
    assert COOKIE not in response.cookies


def test_a_login_with_an_unknown_session_mode_is_400_naming_it(anon, make_user):
    make_user("carol")
    response = anon.post(TOKEN, {"username": "carol", "password": DEFAULT_PASSWORD, "session": "jar"})
    assert response.status_code == 400 and "session" in response.json()


def test_a_cookie_refresh_answers_a_new_access_token_and_rotates_the_cookie(carol):
    first = carol.cookies[COOKIE].value
    response = cookie_refresh(carol)
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access"}
    assert carol.cookies[COOKIE].value not in ("", first)
    assert status_with(carol, response.json()["access"]) == 200
    assert cookie_refresh(carol).status_code == 200


@override_settings(CORS_ALLOWED_ORIGINS=[APP])
def test_a_cookie_refresh_from_a_listed_web_app_origin_is_served(carol):
    assert cookie_refresh(carol, origin=APP).status_code == 200


@pytest.mark.parametrize("origin", [EVIL, "null"])
def test_a_cookie_refresh_from_a_foreign_origin_is_403_and_spends_nothing(carol, origin):
    response = cookie_refresh(carol, origin=origin)
    assert response.status_code == 403
    assert "detail" in response.json()
    assert cookie_refresh(carol).status_code == 200


def test_a_cookie_refresh_without_an_origin_is_403(carol):
    assert carol.post(REFRESH, {}).status_code == 403


def test_a_refresh_with_neither_body_nor_cookie_is_400_naming_refresh(anon):
    response = anon.post(REFRESH, {}, HTTP_ORIGIN=OWN)
    assert response.status_code == 400 and "refresh" in response.json()


def test_a_spent_refresh_cookie_presented_again_ends_the_whole_sign_in(carol, make_client):
    stolen = carol.cookies[COOKIE].value
    assert cookie_refresh(carol).status_code == 200  # the owner rotates
    thief = make_client("mallory")  # another browser, with a cookie jar of its own
    thief.cookies[COOKIE] = stolen

    assert_json_401(cookie_refresh(thief))  # the thief replays the spent one

    live = carol.cookies[COOKIE].value
    refused = cookie_refresh(carol)  # and the owner's live one is dead too
    assert_json_401(refused)
    assert refused.cookies[COOKIE].value == ""  # cleared, not to be sent again
    carol.cookies[COOKIE] = live
    assert_json_401(cookie_refresh(carol))
    assert RevokedFamily.objects.count() == 1


def test_a_cookie_logout_revokes_the_refresh_cookie_and_clears_it(carol):
    carol.credentials(HTTP_AUTHORIZATION=f"Bearer {carol.access}")
    spent = carol.cookies[COOKIE].value
    response = carol.post(LOGOUT, {}, HTTP_ORIGIN=OWN)
    assert response.status_code == 204
    assert response.cookies[COOKIE].value == "" and int(response.cookies[COOKIE]["max-age"]) == 0
    assert status_with(carol, carol.access) == 401
    carol.cookies[COOKIE] = spent
    assert_json_401(cookie_refresh(carol))


def test_a_cookie_logout_from_a_foreign_origin_is_403_and_ends_nothing(carol):
    carol.credentials(HTTP_AUTHORIZATION=f"Bearer {carol.access}")
    assert carol.post(LOGOUT, {}, HTTP_ORIGIN=EVIL).status_code == 403
    assert status_with(carol, carol.access) == 200
    assert cookie_refresh(carol).status_code == 200


def test_a_password_change_in_a_cookie_session_answers_the_new_refresh_token_as_the_cookie(carol):
    carol.credentials(HTTP_AUTHORIZATION=f"Bearer {carol.access}")
    old = carol.cookies[COOKIE].value
    body = {"current_password": DEFAULT_PASSWORD, "new_password": "a-brand-new-passphrase-42"}
    response = carol.post("/api/auth/password/change/", body, HTTP_ORIGIN=OWN)
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access"}
    assert carol.cookies[COOKIE].value != old
    assert cookie_refresh(carol).status_code == 200


# --- Families, in the body mode too ---------------------------------------------------------


def test_a_body_refresh_token_spent_twice_ends_its_sign_in_but_no_other(alice):
    other = alice.login("alice")
    rotated = refresh(alice, alice.tokens["refresh"]).json()["refresh"]
    assert_json_401(refresh(alice, alice.tokens["refresh"]))
    assert_json_401(refresh(alice, rotated))
    assert refresh(alice, other["refresh"]).status_code == 200


def test_every_refresh_token_of_a_sign_in_carries_its_family(alice):
    rotated = refresh(alice, alice.tokens["refresh"]).json()["refresh"]
    assert RefreshToken(rotated)["family"] == RefreshToken(alice.tokens["refresh"])["family"]
    assert RefreshToken(alice.login("alice")["refresh"])["family"] != RefreshToken(rotated)["family"]
