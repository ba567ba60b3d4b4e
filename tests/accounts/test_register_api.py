"""POST /api/auth/register/: creates a user, or answers 400 JSON naming the bad fields."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction

from tests.helpers import DEFAULT_PASSWORD

User = get_user_model()
URL = "/api/auth/register/"


def register(client, **body):
    return client.post(URL, body)


def assert_field_errors(response, *fields) -> None:
    assert response.status_code == 400, response.content
    errors = response.json()
    for field in fields:
        assert isinstance(errors.get(field), list) and errors[field], errors


def test_register_creates_the_user_and_returns_id_username_and_email(anon):
    response = register(anon, username="carol", password=DEFAULT_PASSWORD, email="carol@example.com")
    assert response.status_code == 201, response.content
    user = User.objects.get(username="carol")
    assert response.json() == {"id": user.pk, "username": "carol", "email": "carol@example.com"}


def test_register_stores_a_hashed_password_the_user_can_log_in_with(anon):
    register(anon, username="carol", password=DEFAULT_PASSWORD)
    user = User.objects.get(username="carol")
    assert user.password != DEFAULT_PASSWORD
    assert user.check_password(DEFAULT_PASSWORD)
    assert user.is_active
    assert anon.post("/api/auth/token/", {"username": "carol", "password": DEFAULT_PASSWORD}).status_code == 200


def test_register_without_email_stores_an_empty_email(anon):
    response = register(anon, username="carol", password=DEFAULT_PASSWORD)
    assert response.status_code == 201
    assert response.json()["email"] == ""
    assert User.objects.get(username="carol").email == ""


def test_register_never_echoes_the_password(anon):
    response = register(anon, username="carol", password=DEFAULT_PASSWORD)
    assert "password" not in response.json()
    assert DEFAULT_PASSWORD.encode() not in response.content


def test_register_refuses_a_taken_username_and_keeps_the_first_user(anon, make_user):
    first = make_user("carol")
    response = register(anon, username="carol", password="another-long-passphrase-7")
    assert_field_errors(response, "username")
    assert list(User.objects.filter(username="carol")) == [first]
    first.refresh_from_db()
    assert first.check_password(DEFAULT_PASSWORD)


@pytest.mark.parametrize("email", ["carol@example.com", "Carol@EXAMPLE.com"])
def test_register_refuses_an_email_another_user_has_in_any_case(anon, make_user, email):
    make_user("carol", email="carol@example.com")
    assert_field_errors(register(anon, username="dave", password=DEFAULT_PASSWORD, email=email), "email")
    assert not User.objects.filter(username="dave").exists()


def test_two_users_may_both_register_without_an_email(anon):
    assert register(anon, username="carol", password=DEFAULT_PASSWORD).status_code == 201
    assert register(anon, username="dave", password=DEFAULT_PASSWORD).status_code == 201


def test_the_database_refuses_a_second_user_with_the_same_email_in_another_case(make_user):
    make_user("carol", email="carol@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        make_user("dave", email="CAROL@example.com")


def test_register_refuses_a_username_with_an_at_sign(anon):
    assert_field_errors(register(anon, username="carol@home", password=DEFAULT_PASSWORD), "username")
    assert not User.objects.exists()


@pytest.mark.parametrize(
    "password",
    [
        pytest.param("password", id="common"),
        pytest.param("48213975601", id="numeric"),
        pytest.param("x7#kQ", id="short"),
        pytest.param("margarethe-lindqvist", id="same-as-username"),
        pytest.param("margarethe-lindqvist1", id="too-similar-to-username"),
    ],
)
def test_register_refuses_a_weak_password_with_a_password_error(anon, password):
    response = register(anon, username="margarethe-lindqvist", password=password)
    assert_field_errors(response, "password")
    assert not User.objects.filter(username="margarethe-lindqvist").exists()


def test_register_refuses_a_password_too_similar_to_the_email(anon):
    response = register(
        anon, username="carol", password="zanzibar.quillfeather", email="zanzibar.quillfeather@example.com"
    )
    assert_field_errors(response, "password")


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        pytest.param(
            {"username": "carol", "password": DEFAULT_PASSWORD, "email": "not-an-email"}, ["email"], id="bad-email"
        ),
        pytest.param({"username": "carol", "password": DEFAULT_PASSWORD, "email": None}, ["email"], id="null-email"),
        pytest.param({"password": DEFAULT_PASSWORD}, ["username"], id="no-username"),
        pytest.param({"username": "carol"}, ["password"], id="no-password"),
        pytest.param({}, ["username", "password"], id="empty-body"),
        pytest.param({"username": "", "password": ""}, ["username", "password"], id="blank-fields"),
        pytest.param({"username": "bad name!", "password": DEFAULT_PASSWORD}, ["username"], id="bad-username-chars"),
        pytest.param({"username": "c" * 151, "password": DEFAULT_PASSWORD}, ["username"], id="username-too-long"),
        pytest.param({"username": "carol", "password": "p" * 129}, ["password"], id="password-too-long"),
        pytest.param({"username": "carol", "password": ["a", "list"]}, ["password"], id="password-not-a-string"),
        pytest.param({"username": "carol", "password": DEFAULT_PASSWORD, "id": 7}, ["id"], id="read-only-id"),
        pytest.param({"username": "carol", "password": DEFAULT_PASSWORD, "is_staff": True}, ["is_staff"], id="unknown"),
    ],
)
def test_register_answers_400_naming_each_bad_field(anon, body, fields):
    response = anon.post(URL, body)
    assert_field_errors(response, *fields)
    assert not User.objects.exists()


def test_register_refuses_form_data_with_415(anon):
    response = anon.post(URL, {"username": "carol", "password": DEFAULT_PASSWORD}, format="multipart")
    assert response.status_code == 415
    assert "detail" in response.json()
    assert not User.objects.exists()


def test_register_refuses_malformed_json_with_400(anon):
    response = anon.post(URL, '{"username": "carol", "password": ', content_type="application/json")
    assert response.status_code == 400
    assert "detail" in response.json()
    assert not User.objects.exists()


def test_register_refuses_a_json_body_that_is_not_an_object(anon):
    response = anon.post(URL, json.dumps(["carol", DEFAULT_PASSWORD]), content_type="application/json")
    assert response.status_code == 400
    assert "non_field_errors" in response.json()
    assert not User.objects.exists()


def test_register_ignores_a_bad_authorization_header(anon):
    anon.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert register(anon, username="carol", password=DEFAULT_PASSWORD).status_code == 201
