"""GET, PATCH and DELETE /api/auth/me/: the signed-in user's own account."""

import pytest
from django.contrib.auth import get_user_model

from accounts.models import RevokedUser
from content.models import Category, Content
from review.models import ReviewHistory, ReviewSchedule
from tests.helpers import DEFAULT_PASSWORD, assert_json_401, assert_rejected, is_served, seed, warm
from utils.cache_utils.conf import CONTENT, STATS, TODAY

User = get_user_model()
URL = "/api/auth/me/"


def test_me_answers_the_signed_in_users_account(alice):
    alice.user.email = "alice@example.com"
    alice.user.save()
    response = alice.get(URL)
    assert response.status_code == 200, response.content
    assert response.json() == {
        "id": alice.user.pk,
        "username": "alice",
        "email": "alice@example.com",
        "date_joined": alice.user.date_joined.isoformat().replace("+00:00", "Z"),
        "time_zone": "UTC",
        "day_starts_at_hour": 4,
        "new_cards_per_day": 20,
        "reviews_per_day": 200,
        "days_recount_job": None,
        "scheduler": "ladder",
        "desired_retention": 0.9,
        "reschedule_job": None,
        "reschedule_progress": None,
    }


def test_me_without_a_token_is_401(anon):
    assert_json_401(anon.get(URL))


def test_patch_changes_the_named_fields_and_answers_the_account(alice):
    response = alice.patch(URL, {"email": "New@Example.com"})
    assert response.status_code == 200, response.content
    assert response.json()["email"] == "New@Example.com"
    assert response.json()["username"] == "alice"
    alice.user.refresh_from_db()
    assert alice.user.email == "New@Example.com"


def test_patch_renames_the_user_who_then_signs_in_with_the_new_name(alice, anon):
    assert alice.patch(URL, {"username": "alicia"}).status_code == 200
    assert anon.post("/api/auth/token/", {"username": "alicia", "password": DEFAULT_PASSWORD}).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"username": "alice@home"}, "username", id="at-sign-in-username"),
        pytest.param({"username": "bob"}, "username", id="taken-username"),
        pytest.param({"username": ""}, "username", id="blank-username"),
        pytest.param({"email": "not-an-email"}, "email", id="bad-email"),
        pytest.param({"email": "BOB@example.com"}, "email", id="email-taken-in-another-case"),
        pytest.param({"id": 99}, "id", id="read-only-id"),
        pytest.param({"date_joined": "2020-01-01T00:00:00Z"}, "date_joined", id="read-only-date-joined"),
        pytest.param({"is_staff": True}, "is_staff", id="unknown-field"),
    ],
)
def test_patch_refuses_bad_input_with_400_naming_the_field_and_changes_nothing(alice, bob, body, field):
    bob.user.email = "bob@example.com"
    bob.user.save()
    assert_rejected(alice.patch(URL, body), field)
    unchanged = User.objects.get(pk=alice.user.pk)
    assert (unchanged.username, unchanged.email, unchanged.is_staff) == ("alice", "", False)


def test_patch_may_keep_the_users_own_email_in_another_case(alice):
    alice.patch(URL, {"email": "alice@example.com"})
    assert alice.patch(URL, {"email": "ALICE@example.com"}).status_code == 200


def test_delete_with_the_password_removes_the_user_their_data_and_cached_answers(alice, bob):
    seed(alice)
    seed(bob)
    for endpoint in ("today", "stats", "content"):
        warm(alice, endpoint)
    user_id = alice.user.pk

    response = alice.delete(URL, {"password": DEFAULT_PASSWORD})

    assert response.status_code == 204, response.content
    assert not User.objects.filter(pk=user_id).exists()
    for model, owner in [(Content, "owner_id"), (Category, "owner_id"), (ReviewSchedule, "owner_id")]:
        assert not model.objects.filter(**{owner: user_id}).exists()
    assert not ReviewHistory.objects.filter(user_id=user_id).exists()
    assert not any(is_served(user_id, namespace) for namespace in (TODAY, STATS, CONTENT))
    assert RevokedUser.objects.filter(user_id=user_id).exists()
    assert_json_401(alice.get(URL))
    assert Content.objects.filter(owner_id=bob.user.pk).count() == 3


def test_delete_with_a_wrong_password_is_400_and_keeps_the_account(alice):
    assert_rejected(alice.delete(URL, {"password": "not-the-password-at-all"}), "password")
    assert User.objects.filter(pk=alice.user.pk).exists()
    assert alice.get(URL).status_code == 200


def test_delete_without_the_password_is_400_naming_it(alice):
    assert_rejected(alice.delete(URL, {}), "password")
    assert User.objects.filter(pk=alice.user.pk).exists()


def test_delete_without_a_token_is_401(anon, alice):
    assert_json_401(anon.delete(URL, {"password": DEFAULT_PASSWORD}))
    assert User.objects.filter(pk=alice.user.pk).exists()


def test_patch_sets_the_learners_day_and_limits_and_answers_them(alice):
    changes = {"time_zone": "Pacific/Kiritimati", "day_starts_at_hour": 2}
    changes |= {"new_cards_per_day": 5, "reviews_per_day": 50}

    response = alice.patch(URL, changes)

    assert response.status_code == 200, response.content
    assert {name: response.json()[name] for name in changes} == changes
    assert {name: alice.get(URL).json()[name] for name in changes} == changes


def test_an_unknown_time_zone_is_a_400_naming_it(alice):
    response = alice.patch(URL, {"time_zone": "Mars/Olympus_Mons"})

    assert_rejected(response, "time_zone")
    assert "Mars/Olympus_Mons" in response.json()["time_zone"][0]
    assert alice.get(URL).json()["time_zone"] == "UTC"


@pytest.mark.parametrize(
    "field, value", [("day_starts_at_hour", 24), ("day_starts_at_hour", -1), ("new_cards_per_day", -1)]
)
def test_a_setting_out_of_range_is_a_400_naming_it(alice, field, value):
    assert_rejected(alice.patch(URL, {field: value}), field)


def test_patch_chooses_fsrs_and_its_retention_and_answers_them(alice):
    changes = {"scheduler": "fsrs", "desired_retention": 0.85}

    response = alice.patch(URL, changes)

    assert response.status_code == 200, response.content
    assert {name: response.json()[name] for name in changes} == changes
    assert {name: alice.get(URL).json()[name] for name in changes} == changes


@pytest.mark.parametrize(
    "field, value",
    [
        ("scheduler", "sm2"),
        ("scheduler", ""),
        ("scheduler", None),
        ("desired_retention", 0.69),
        ("desired_retention", 0.995),
        ("desired_retention", 1),
        ("desired_retention", "high"),
    ],
)
def test_an_unknown_scheduler_or_a_retention_out_of_range_is_a_400_naming_it(alice, field, value):
    assert_rejected(alice.patch(URL, {field: value}, format="json"), field)
    assert (alice.get(URL).json()["scheduler"], alice.get(URL).json()["desired_retention"]) == ("ladder", 0.9)


def test_the_ends_of_the_retention_range_are_accepted(alice):
    assert alice.patch(URL, {"desired_retention": 0.7}).json()["desired_retention"] == 0.7
    assert alice.patch(URL, {"desired_retention": 0.99}).json()["desired_retention"] == 0.99


def test_changing_the_zone_bumps_today_and_stats_and_a_limit_today_only(alice, bump_calls):
    alice.patch(URL, {"time_zone": "Asia/Seoul"})
    alice.patch(URL, {"reviews_per_day": 10})
    alice.patch(URL, {"reviews_per_day": 10})  # no change: nothing to bump

    assert [set(namespaces) for _, namespaces in bump_calls] == [{TODAY, STATS}, {TODAY}]


def test_changing_the_scheduler_or_the_retention_bumps_today_only(alice, bump_calls):
    alice.patch(URL, {"reviews_per_day": 10})  # the learner's row, created: today and stats
    alice.patch(URL, {"desired_retention": 0.8})
    alice.patch(URL, {"scheduler": "fsrs"})  # no card has history: nothing is rescheduled

    assert [set(namespaces) for _, namespaces in bump_calls][1:] == [{TODAY}, {TODAY}]
