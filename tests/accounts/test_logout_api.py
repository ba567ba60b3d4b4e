"""POST /api/auth/logout/: revokes the presented access token (and the refresh token if sent)."""

from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import RevokedToken
from tests.helpers import PROTECTED_URL, assert_json_401, refresh, status_with

URL = "/api/auth/logout/"


def logout(client, **body):
    return client.post(URL, body)


def test_logout_answers_204_with_no_body(alice):
    response = logout(alice)
    assert response.status_code == 204
    assert response.content == b""


def test_logout_revokes_the_presented_access_token(alice):
    assert alice.get(PROTECTED_URL).status_code == 200  # the revocation hash is loaded now
    assert logout(alice).status_code == 204
    assert_json_401(alice.get(PROTECTED_URL))


def test_logout_records_the_access_token_durably(alice):
    logout(alice)
    jti = AccessToken(alice.tokens["access"])["jti"]
    assert RevokedToken.objects.filter(jti=jti, token_type=RevokedToken.ACCESS, user_id=alice.user.pk).exists()


def test_logout_with_the_refresh_token_makes_it_unusable(alice):
    assert logout(alice, refresh=alice.tokens["refresh"]).status_code == 204
    assert_json_401(refresh(alice, alice.tokens["refresh"]))
    assert_json_401(alice.get(PROTECTED_URL))


def test_logout_without_a_refresh_token_leaves_the_refresh_token_usable(alice):
    logout(alice)
    assert refresh(alice, alice.tokens["refresh"]).status_code == 200


def test_logout_ends_only_the_presented_session(alice):
    other_session = alice.login("alice")  # also sets this new access token on the client
    alice.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.tokens['access']}")
    assert logout(alice).status_code == 204
    assert status_with(alice, alice.tokens["access"]) == 401
    assert status_with(alice, other_session["access"]) == 200


def test_a_logged_out_access_token_cannot_log_out_again(alice):
    logout(alice)
    assert_json_401(logout(alice))


def test_logout_with_another_users_refresh_token_is_401_and_revokes_nothing(alice, bob):
    response = logout(alice, refresh=bob.tokens["refresh"])
    assert_json_401(response)
    assert not RevokedToken.objects.exists()
    assert alice.get(PROTECTED_URL).status_code == 200
    assert refresh(bob, bob.tokens["refresh"]).status_code == 200


def test_logout_with_a_garbage_refresh_token_is_401_and_keeps_the_access_token(alice):
    assert_json_401(logout(alice, refresh="garbage"))
    assert alice.get(PROTECTED_URL).status_code == 200


def test_logout_with_an_access_token_as_the_refresh_token_is_401(alice):
    assert_json_401(logout(alice, refresh=alice.tokens["access"]))
    assert not RevokedToken.objects.exists()


def test_logout_with_an_already_spent_refresh_token_still_revokes_the_access_token(alice):
    spent = alice.tokens["refresh"]
    assert refresh(alice, spent).status_code == 200
    assert logout(alice, refresh=spent).status_code == 204
    assert_json_401(alice.get(PROTECTED_URL))


def test_logout_with_a_blank_refresh_field_is_400(alice):
    response = logout(alice, refresh="")
    assert response.status_code == 400
    assert "refresh" in response.json()
    assert alice.get(PROTECTED_URL).status_code == 200


def test_unauthenticated_logout_is_401(anon, alice):
    assert_json_401(logout(anon, refresh=alice.tokens["refresh"]))
    assert not RevokedToken.objects.exists()
    assert refresh(alice, alice.tokens["refresh"]).status_code == 200


def test_logout_with_a_refresh_token_in_the_authorization_header_is_401(alice):
    alice.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.tokens['refresh']}")
    assert_json_401(logout(alice))
    assert not RevokedToken.objects.exists()
