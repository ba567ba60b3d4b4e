"""Deactivating or deleting a user kills their stateless tokens at once (accounts/signals.py)."""

from accounts.models import RevokedUser
from tests.helpers import (
    DEFAULT_PASSWORD,
    PROTECTED_URL,
    assert_json_401,
    revocation_clock,
    seconds_ago,
    set_active,
    status_with,
    token_clock,
)


def test_deactivating_a_user_makes_their_access_token_401_at_once(alice, django_capture_on_commit_callbacks):
    assert alice.get(PROTECTED_URL).status_code == 200  # the revocation hash is loaded and says "fine"
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    assert_json_401(alice.get(PROTECTED_URL))


def test_deactivation_kills_every_session_of_the_user_but_no_one_elses(alice, bob, django_capture_on_commit_callbacks):
    first_access = alice.tokens["access"]
    second_access = alice.login("alice")["access"]
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    assert status_with(alice, first_access) == 401
    assert status_with(alice, second_access) == 401
    assert bob.get(PROTECTED_URL).status_code == 200


def test_deactivation_records_a_durable_cut_off(alice, django_capture_on_commit_callbacks):
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    assert RevokedUser.objects.filter(user_id=alice.user.pk).exists()


def test_saving_an_active_user_revokes_nothing(alice, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice.user.email = "alice@example.com"
        alice.user.save()
    assert not RevokedUser.objects.exists()
    assert alice.get(PROTECTED_URL).status_code == 200


def test_deleting_a_user_makes_their_access_token_401_at_once(alice, django_capture_on_commit_callbacks):
    assert alice.get(PROTECTED_URL).status_code == 200
    user_id = alice.user.pk
    with django_capture_on_commit_callbacks(execute=True):
        alice.user.delete()
    assert_json_401(alice.get(PROTECTED_URL))
    assert RevokedUser.objects.filter(user_id=user_id).exists()


def test_deleting_users_through_a_queryset_also_kills_their_tokens(
    alice, django_user_model, django_capture_on_commit_callbacks
):
    alice.get(PROTECTED_URL)
    with django_capture_on_commit_callbacks(execute=True):
        django_user_model.objects.filter(pk=alice.user.pk).delete()
    assert_json_401(alice.get(PROTECTED_URL))


def test_a_deactivated_user_cannot_log_in(alice, anon, django_capture_on_commit_callbacks):
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    assert_json_401(anon.post("/api/auth/token/", {"username": "alice", "password": DEFAULT_PASSWORD}))


def test_a_reactivated_user_can_log_in_again_and_the_new_token_works(
    anon, make_user, django_capture_on_commit_callbacks
):
    user = make_user("carol")
    with token_clock(seconds_ago(10)):
        old_access = anon.login("carol")["access"]
    with revocation_clock(seconds_ago(5)):
        set_active(user, False, django_capture_on_commit_callbacks)
    set_active(user, True, django_capture_on_commit_callbacks)

    new_access = anon.login("carol")["access"]

    assert status_with(anon, new_access) == 200
    assert status_with(anon, old_access) == 401
