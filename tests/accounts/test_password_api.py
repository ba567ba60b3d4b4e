"""POST /api/auth/password/change/, /password/reset/ and /password/reset/confirm/."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings

from tests.helpers import DEFAULT_PASSWORD, assert_json_401, assert_rejected, refresh, status_with

User = get_user_model()
CHANGE = "/api/auth/password/change/"
RESET = "/api/auth/password/reset/"
CONFIRM = "/api/auth/password/reset/confirm/"
NEW_PASSWORD = "a-brand-new-passphrase-42"


def change(client, current: str = DEFAULT_PASSWORD, new: str = NEW_PASSWORD):
    return client.post(CHANGE, {"current_password": current, "new_password": new})


def log_in(client, identifier: str, password: str):
    return client.post("/api/auth/token/", {"username": identifier, "password": password})


# --- Change ---------------------------------------------------------------------------------


def test_a_password_change_answers_a_new_pair_that_keeps_working(alice):
    response = change(alice)
    assert response.status_code == 200, response.content
    pair = response.json()
    assert set(pair) == {"access", "refresh"}
    assert status_with(alice, pair["access"]) == 200
    assert refresh(alice, pair["refresh"]).status_code == 200


def test_a_password_change_kills_every_earlier_token_of_the_user_only(alice, bob):
    other_session = alice.login("alice")
    alice.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.tokens['access']}")
    assert change(alice).status_code == 200
    assert status_with(alice, alice.tokens["access"]) == 401
    assert status_with(alice, other_session["access"]) == 401
    assert_json_401(refresh(alice, other_session["refresh"]))
    assert status_with(bob, bob.tokens["access"]) == 200


def test_after_a_change_only_the_new_password_signs_in(alice, anon):
    change(alice)
    assert_json_401(log_in(anon, "alice", DEFAULT_PASSWORD))
    assert log_in(anon, "alice", NEW_PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        pytest.param("not-the-password-at-all", NEW_PASSWORD, "current_password", id="wrong-current"),
        pytest.param(DEFAULT_PASSWORD, "password", "new_password", id="common-new"),
        pytest.param(DEFAULT_PASSWORD, "x7#kQ", "new_password", id="short-new"),
        pytest.param(DEFAULT_PASSWORD, "", "new_password", id="blank-new"),
    ],
)
def test_a_change_with_bad_input_is_400_naming_the_field_and_keeps_the_tokens(alice, current, new, field):
    assert_rejected(change(alice, current, new), field)
    assert status_with(alice, alice.tokens["access"]) == 200
    assert User.objects.get(pk=alice.user.pk).check_password(DEFAULT_PASSWORD)


def test_a_change_without_a_token_is_401(anon):
    assert_json_401(change(anon))


# --- Reset ----------------------------------------------------------------------------------


def reset_mail_fields() -> dict:
    """uid and token out of the one mail sent."""
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    return {name: re.search(rf"{name}: (\S+)", body).group(1) for name in ("uid", "token")}


@pytest.fixture
def carol(make_user):
    return make_user("carol", email="Carol@Example.com")


def test_a_reset_request_mails_a_token_that_sets_a_new_password(anon, carol):
    assert anon.post(RESET, {"email": "carol@example.com"}).status_code == 204
    assert mail.outbox[0].to == [carol.email]

    response = anon.post(CONFIRM, {**reset_mail_fields(), "new_password": NEW_PASSWORD})

    assert response.status_code == 204, response.content
    assert log_in(anon, "carol", NEW_PASSWORD).status_code == 200
    assert_json_401(log_in(anon, "carol", DEFAULT_PASSWORD))


def test_a_sign_in_right_after_a_reset_gets_tokens_that_work(anon, carol):
    """The cut-off has whole seconds, as `iat` has: a sign-in in the second of the reset would be
    cut off by it, so the reset answers in the next second."""
    anon.post(RESET, {"email": "carol@example.com"})
    assert anon.post(CONFIRM, {**reset_mail_fields(), "new_password": NEW_PASSWORD}).status_code == 204
    pair = log_in(anon, "carol", NEW_PASSWORD).json()
    assert status_with(anon, pair["access"]) == 200
    assert refresh(anon, pair["refresh"]).status_code == 200


def test_a_reset_ends_every_session_of_the_account(anon, carol):
    tokens = anon.login("carol")
    anon.post(RESET, {"email": "carol@example.com"})
    anon.post(CONFIRM, {**reset_mail_fields(), "new_password": NEW_PASSWORD})
    assert status_with(anon, tokens["access"]) == 401
    assert_json_401(refresh(anon, tokens["refresh"]))


@override_settings(PASSWORD_RESET_URL="https://app.example/reset/{uid}/{token}")
def test_the_reset_mail_links_to_the_web_apps_page_when_one_is_set(anon, carol):
    anon.post(RESET, {"email": "carol@example.com"})
    assert re.search(r"https://app\.example/reset/\w+/[\w-]+", mail.outbox[0].body)


@pytest.mark.parametrize("email", ["nobody@example.com", "inactive@example.com"])
def test_a_reset_request_for_an_address_without_a_usable_account_is_204_and_sends_nothing(anon, make_user, email):
    make_user("inactive", email="inactive@example.com", is_active=False)
    response = anon.post(RESET, {"email": email})
    assert (response.status_code, response.content) == (204, b"")
    assert mail.outbox == []


def test_a_reset_request_with_a_malformed_email_is_400_naming_it(anon):
    assert_rejected(anon.post(RESET, {"email": "not-an-email"}), "email")


def test_a_reset_token_works_once(anon, carol):
    anon.post(RESET, {"email": "carol@example.com"})
    fields = reset_mail_fields()
    assert anon.post(CONFIRM, {**fields, "new_password": NEW_PASSWORD}).status_code == 204
    assert_rejected(anon.post(CONFIRM, {**fields, "new_password": "yet-another-passphrase-7"}), "token")


@pytest.mark.parametrize(
    ("change_of", "field"),
    [
        pytest.param({"token": "abc-123"}, "token", id="bad-token"),
        pytest.param({"uid": "bm9wZQ"}, "uid", id="uid-of-nothing"),
        pytest.param({"uid": "!!"}, "uid", id="malformed-uid"),
        pytest.param({"new_password": "password"}, "new_password", id="weak-new-password"),
        pytest.param({"new_password": ""}, "new_password", id="blank-new-password"),
    ],
)
def test_a_reset_confirm_with_bad_input_is_400_naming_the_field_and_keeps_the_password(anon, carol, change_of, field):
    anon.post(RESET, {"email": "carol@example.com"})
    assert_rejected(anon.post(CONFIRM, {**reset_mail_fields(), "new_password": NEW_PASSWORD, **change_of}), field)
    assert User.objects.get(pk=carol.pk).check_password(DEFAULT_PASSWORD)
