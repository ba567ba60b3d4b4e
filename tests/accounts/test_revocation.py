"""accounts/authentication.py: the database is the truth, Redis the fast copy that may vanish or fail."""

from datetime import timedelta

import pytest
from rest_framework_simplejwt.tokens import AccessToken

from accounts import authentication
from accounts.models import RevokedToken
from tests.helpers import (
    PROTECTED_URL,
    assert_json_401,
    redis_down,
    revocation_clock,
    seconds_ago,
    set_active,
    status_with,
)
from utils import clock, redis_layer
from utils.breaker import CLOSED, OPEN


def access_claims(client) -> dict:
    token = AccessToken(client.tokens["access"])
    return {"user_id": int(token["user_id"]), "jti": token["jti"], "iat": int(token["iat"])}


def revocation_hash(user_id: int) -> dict:
    return authentication._redis().hgetall(authentication._hash_key(user_id))


def forget_all_revocations_in_redis() -> None:
    """What a Redis restart or an eviction of the revocation keys looks like to the app."""
    client = redis_layer.client(redis_layer.REVOCATION)
    if found := list(client.scan_iter(match=redis_layer.make_key(redis_layer.REVOCATION, "*"))):
        client.delete(*found)


# --- Redis lost its keys ----------------------------------------------------------------------


def test_a_logged_out_token_stays_revoked_after_the_redis_keys_vanish(alice):
    assert alice.post("/api/auth/logout/").status_code == 204
    assert revocation_hash(alice.user.pk)  # the revocation reached Redis...
    forget_all_revocations_in_redis()
    assert revocation_hash(alice.user.pk) == {}  # ...and is gone from it now
    assert_json_401(alice.get(PROTECTED_URL))


def test_a_deactivation_stays_in_force_after_the_redis_keys_vanish(alice, django_capture_on_commit_callbacks):
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    forget_all_revocations_in_redis()
    assert_json_401(alice.get(PROTECTED_URL))


def test_a_rebuilt_hash_holds_the_revocations_from_the_database(alice):
    alice.post("/api/auth/logout/")
    forget_all_revocations_in_redis()
    alice.get(PROTECTED_URL)
    fields = revocation_hash(alice.user.pk)
    assert fields[authentication.LOADED_FIELD.encode()] == b"1"
    assert f"jti:{access_claims(alice)['jti']}".encode() in fields


def test_a_valid_token_is_still_accepted_after_the_redis_keys_vanish(alice):
    other_session = alice.login("alice")["access"]
    alice.credentials(HTTP_AUTHORIZATION=f"Bearer {alice.tokens['access']}")
    alice.post("/api/auth/logout/")
    forget_all_revocations_in_redis()
    assert status_with(alice, other_session) == 200


def test_a_revocation_that_has_expired_is_not_loaded_into_redis(make_user):
    user = make_user("carol")
    RevokedToken.objects.create(
        jti="old", user_id=user.pk, token_type=RevokedToken.ACCESS, expires_at=clock.now() - timedelta(minutes=1)
    )
    RevokedToken.objects.create(
        jti="live", user_id=user.pk, token_type=RevokedToken.ACCESS, expires_at=clock.now() + timedelta(minutes=1)
    )
    assert authentication.is_revoked({"user_id": user.pk, "jti": "live", "iat": 0})
    fields = revocation_hash(user.pk)
    assert b"jti:live" in fields
    assert b"jti:old" not in fields


# --- Redis unreachable ------------------------------------------------------------------------


def test_when_redis_is_down_a_revoked_token_is_still_revoked(alice):
    alice.post("/api/auth/logout/")
    with redis_down():
        assert authentication.is_revoked(access_claims(alice)) is True
        assert_json_401(alice.get(PROTECTED_URL))


def test_when_redis_is_down_a_valid_token_is_still_accepted(alice):
    with redis_down():
        assert authentication.is_revoked(access_claims(alice)) is False
        assert alice.get(PROTECTED_URL).status_code == 200


def test_when_redis_is_down_a_deactivated_users_token_is_revoked(alice, django_capture_on_commit_callbacks):
    set_active(alice.user, False, django_capture_on_commit_callbacks)
    with redis_down():
        assert authentication.is_revoked(access_claims(alice)) is True


def test_a_logout_while_redis_is_down_still_takes_effect(alice):
    alice.get(PROTECTED_URL)
    with redis_down():
        assert alice.post("/api/auth/logout/").status_code == 204
        assert_json_401(alice.get(PROTECTED_URL))


def test_a_revocation_whose_redis_write_failed_is_kept_for_replay(alice):
    with redis_down():
        alice.post("/api/auth/logout/")
    assert authentication._pending == [(alice.user.pk, {f"jti:{access_claims(alice)['jti']}": 1})]


def test_a_failed_revocation_write_is_replayed_on_the_next_check_that_reaches_redis(alice, bob):
    claims = access_claims(alice)
    assert alice.get(PROTECTED_URL).status_code == 200  # alice's hash is loaded and says "valid"
    with redis_down():
        alice.post("/api/auth/logout/")
    assert f"jti:{claims['jti']}".encode() not in revocation_hash(alice.user.pk)

    assert bob.get(PROTECTED_URL).status_code == 200  # any check in this process replays

    assert authentication._pending == []
    assert f"jti:{claims['jti']}".encode() in revocation_hash(alice.user.pk)
    assert_json_401(alice.get(PROTECTED_URL))


def test_a_replay_that_fails_again_keeps_the_revocation_pending(alice):
    with redis_down():
        alice.post("/api/auth/logout/")
        pending = list(authentication._pending)
        assert authentication.is_revoked(access_claims(alice)) is True
    assert authentication._pending == pending != []


def test_a_deactivation_whose_redis_write_failed_is_replayed(alice, bob, django_capture_on_commit_callbacks):
    alice.get(PROTECTED_URL)
    with redis_down():
        set_active(alice.user, False, django_capture_on_commit_callbacks)
    bob.get(PROTECTED_URL)
    assert authentication.NOT_AFTER_FIELD.encode() in revocation_hash(alice.user.pk)
    assert_json_401(alice.get(PROTECTED_URL))


# --- The store's own rules ------------------------------------------------------------------


def revoke_access(user_id: int, jti: str) -> bool:
    expires_at = clock.now() + timedelta(minutes=5)
    return authentication.revoke_token(jti=jti, user_id=user_id, token_type=RevokedToken.ACCESS, expires_at=expires_at)


def test_revoke_token_is_true_the_first_time_and_false_after(make_user, django_capture_on_commit_callbacks):
    user = make_user("carol")
    with django_capture_on_commit_callbacks(execute=True):
        first, second = revoke_access(user.pk, "j1"), revoke_access(user.pk, "j1")
    assert (first, second) == (True, False)
    assert RevokedToken.objects.filter(jti="j1").count() == 1
    assert authentication.is_revoked({"user_id": user.pk, "jti": "j1", "iat": 0})


def test_a_revoked_refresh_token_is_not_copied_to_redis(make_user, django_capture_on_commit_callbacks):
    user = make_user("carol")
    with django_capture_on_commit_callbacks(execute=True):
        authentication.revoke_token(
            jti="r1", user_id=user.pk, token_type=RevokedToken.REFRESH, expires_at=clock.now() + timedelta(days=1)
        )
    assert revocation_hash(user.pk) == {}


@pytest.mark.parametrize(("offset", "revoked"), [(-1, True), (0, True), (1, False)])
def test_a_user_cut_off_revokes_tokens_issued_up_to_that_second(
    make_user, django_capture_on_commit_callbacks, offset, revoked
):
    user = make_user("carol")
    moment = seconds_ago(60)
    cutoff = int(moment.timestamp())
    with django_capture_on_commit_callbacks(execute=True), revocation_clock(moment):
        authentication.revoke_user_tokens(user_id=user.pk)
    assert authentication.is_revoked({"user_id": user.pk, "jti": "any", "iat": cutoff + offset}) is revoked


def test_the_redis_hash_expires_rather_than_living_forever(alice):
    alice.get(PROTECTED_URL)
    ttl = authentication._redis().ttl(authentication._hash_key(alice.user.pk))
    assert 0 < ttl <= authentication.HASH_TTL_SECONDS


def test_a_logout_in_a_process_whose_circuit_is_late_to_close_reaches_redis_before_its_204(alice):
    """This process's circuit is open while Redis answers (it has not seen it come back yet);
    other processes, their circuits closed, read alice's loaded hash: the logout asks Redis
    itself (redis_layer.probe_now) rather than keep the revocation for a later replay."""
    jti_field = f"jti:{access_claims(alice)['jti']}".encode()
    assert alice.get(PROTECTED_URL).status_code == 200  # alice's hash is loaded and says "valid"
    circuit = redis_layer.breaker(redis_layer.REVOCATION)
    for _ in range(circuit.failure_threshold):
        circuit.record_failure()
    assert circuit.state == OPEN

    assert alice.post("/api/auth/logout/").status_code == 204
    assert authentication._pending == []
    assert jti_field in revocation_hash(alice.user.pk)
    assert circuit.state == CLOSED
