"""Invalidation: namespace bumps that wait for the commit and travel in one batch per transaction,
survive rolled-back blocks and Redis errors; key and pattern deletes that touch nothing else."""

import logging
from datetime import date

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from tests.helpers import is_served, put_entry, record_client, token_of
from tests.servers import delete_this_runs_keys
from utils.cache_utils import (
    generate_cache_key,
    invalidate_cache,
    invalidate_on_commit,
    invalidate_pattern,
    store,
)
from utils.cache_utils.conf import CONTENT, ENTRY_FORMAT, NAMESPACES, STATS, TODAY

DAY = date(2024, 5, 15)


class Boom(Exception):
    pass


def invalidate(user_id: int, *namespaces: str, reason: str = "test") -> None:
    invalidate_on_commit(user_id=user_id, namespaces=namespaces or NAMESPACES, reason=reason)


def claim_all(*user_ids: int) -> dict[tuple[int, str], str]:
    return {
        (user_id, namespace): store.claim_version(user_id=user_id, namespace=namespace)
        for user_id in user_ids
        for namespace in NAMESPACES
    }


def bumped(before: dict[tuple[int, str], str]) -> set[tuple[int, str]]:
    """Which of the claimed (user, namespace) tokens have changed since."""
    return {slot for slot, token in before.items() if token_of(*slot) != token}


def metric(name: str, labels: dict) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def invalidate_errors() -> float:
    return metric("resee_redis_errors_total", {"purpose": "cache", "operation": "invalidate"})


class UnreachableRedis:
    """A client whose every command fails as a Redis that went away does."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise RedisConnectionError("Error 111 connecting to redis. Connection refused.")

        return fail


# --- invalidate_on_commit: timing -------------------------------------------------------------------


def test_an_invalidation_inside_a_transaction_bumps_only_after_the_commit(db, django_capture_on_commit_callbacks):
    before = claim_all(42)
    with django_capture_on_commit_callbacks(execute=True):
        invalidate(42, TODAY)
        assert bumped(before) == set()
    assert bumped(before) == {(42, TODAY)}


@pytest.mark.django_db(transaction=True)
def test_an_invalidation_outside_any_transaction_bumps_at_once():
    before = claim_all(42)
    invalidate(42, TODAY, STATS)
    assert bumped(before) == {(42, TODAY), (42, STATS)}


@pytest.mark.django_db(transaction=True)
def test_a_real_commit_bumps_and_a_real_rollback_does_not_until_the_next_commit():
    before = claim_all(1, 2, 3)
    with transaction.atomic():
        invalidate(1, TODAY)
        assert bumped(before) == set()
    assert bumped(before) == {(1, TODAY)}

    with pytest.raises(Boom), transaction.atomic():
        invalidate(2, TODAY)
        raise Boom
    assert bumped(before) == {(1, TODAY)}

    with transaction.atomic():
        invalidate(3, TODAY)
    # Note: the rolled-back block's bump rides with the thread's next commit: one miss more, never
    # one fewer (knowing what a rollback dropped would mean reading Django's private structures).
    assert bumped(before) == {(1, TODAY), (2, TODAY), (3, TODAY)}


def test_invalidating_every_namespace_is_the_default(db, django_capture_on_commit_callbacks):
    before = claim_all(42)
    with django_capture_on_commit_callbacks(execute=True):
        invalidate_on_commit(user_id=42, reason="test")
    assert bumped(before) == {(42, namespace) for namespace in NAMESPACES}


# --- invalidate_on_commit: batching -----------------------------------------------------------------


def test_several_invalidations_in_one_block_are_sent_as_one_batch_with_one_bump_per_user(
    db, django_capture_on_commit_callbacks, bump_calls
):
    before = claim_all(1, 2)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        invalidate(1, TODAY)
        invalidate(2, STATS)
        invalidate(1, STATS, TODAY)
        invalidate(1, CONTENT, reason="other")
        invalidate(2, STATS)
        assert bump_calls == []
    assert len(callbacks) == 5  # each queues a flush; the first sends everything, the rest nothing
    assert sorted(bump_calls) == [(1, (CONTENT, STATS, TODAY)), (2, (STATS,))]
    assert bumped(before) == {(1, CONTENT), (1, STATS), (1, TODAY), (2, STATS)}


def test_every_reason_of_a_batch_is_counted(db, django_capture_on_commit_callbacks):
    def counted(reason):
        return metric("resee_cache_invalidations_total", {"reason": reason})

    start = {reason: counted(reason) for reason in ("batch-a", "batch-b")}
    with django_capture_on_commit_callbacks(execute=True):
        invalidate(1, TODAY, reason="batch-a")
        invalidate(1, STATS, reason="batch-b")
    assert {reason: counted(reason) - value for reason, value in start.items()} == {"batch-a": 1, "batch-b": 1}


def test_a_block_after_an_executed_batch_queues_a_batch_of_its_own(db, django_capture_on_commit_callbacks):
    before = claim_all(1, 2)
    with django_capture_on_commit_callbacks(execute=True):
        invalidate(1, TODAY)
    with django_capture_on_commit_callbacks(execute=True):
        invalidate(2, TODAY)
    assert bumped(before) == {(1, TODAY), (2, TODAY)}


def test_an_invalidation_after_a_rolled_back_block_is_still_sent(db, django_capture_on_commit_callbacks):
    before = claim_all(1, 2)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(Boom), transaction.atomic():
            invalidate(1, TODAY)
            raise Boom
        invalidate(2, TODAY)
    assert bumped(before) == {(1, TODAY), (2, TODAY)}  # the rolled-back one rides along, harmlessly


def test_an_inner_savepoint_that_rolls_back_does_not_swallow_the_outer_blocks_invalidations(
    db, django_capture_on_commit_callbacks
):
    before = claim_all(1, 2, 3)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        invalidate(1, TODAY)
        with pytest.raises(Boom), transaction.atomic():
            invalidate(2, TODAY)
            invalidate(1, STATS)
            raise Boom
        invalidate(3, TODAY)
    assert bumped(before) >= {(1, TODAY), (3, TODAY)}  # and the savepoint's, harmlessly


def test_an_inner_savepoint_that_commits_keeps_its_invalidations_and_the_outer_ones(
    db, django_capture_on_commit_callbacks
):
    before = claim_all(1, 2, 3)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        invalidate(1, TODAY)
        with transaction.atomic():
            invalidate(2, TODAY)
        invalidate(3, TODAY)
        with pytest.raises(Boom), transaction.atomic():
            raise Boom
        invalidate(1, STATS)
    assert bumped(before) == {(1, TODAY), (2, TODAY), (3, TODAY), (1, STATS)}


# --- invalidate_on_commit: Redis errors -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_redis_error_during_an_immediate_bump_is_logged_and_counted_not_raised(swap_redis, caplog):
    swap_redis(cache=UnreachableRedis())
    errors = invalidate_errors()
    with caplog.at_level(logging.ERROR, logger="utils.cache_utils.invalidation"):
        invalidate(42, TODAY)
    assert invalidate_errors() == errors + 1
    assert [record.levelno for record in caplog.records] == [logging.ERROR]
    assert "42" in caplog.records[0].getMessage()


def test_a_redis_error_at_commit_is_logged_and_counted_per_user_not_raised(
    db, django_capture_on_commit_callbacks, swap_redis, caplog
):
    errors = invalidate_errors()
    with caplog.at_level(logging.ERROR, logger="utils.cache_utils.invalidation"):
        with django_capture_on_commit_callbacks(execute=True):
            invalidate(1, TODAY)
            invalidate(2, TODAY)
            swap_redis(cache=UnreachableRedis())
    assert invalidate_errors() == errors + 2
    assert len([record for record in caplog.records if record.levelno == logging.ERROR]) == 2


def test_a_redis_error_for_one_user_is_settled_before_the_other_users_bump(
    db, django_capture_on_commit_callbacks, monkeypatch
):
    before = claim_all(1, 2)
    real_bump = store.bump

    def bump_failing_for_user_1(*, user_id, namespaces):
        if user_id == 1:
            raise RedisConnectionError("connection reset")
        real_bump(user_id=user_id, namespaces=namespaces)

    monkeypatch.setattr(store, "bump", bump_failing_for_user_1)
    errors = invalidate_errors()
    with django_capture_on_commit_callbacks(execute=True):
        invalidate(1, TODAY)
        invalidate(2, TODAY)
    # User 1's bump became a debt, paid by the probe that user 2's bump makes.
    assert bumped(before) == {(1, TODAY), (2, TODAY)}
    assert invalidate_errors() == errors + 1


# --- invalidate_cache ---------------------------------------------------------------------------


def entry_params(n: int) -> dict:
    return {"date": DAY, "page": n}


def test_invalidate_cache_deletes_exactly_the_entries_it_names():
    for n in range(4):
        put_entry(42, CONTENT, entry_params(n))
    put_entry(43, CONTENT, entry_params(0))
    prefix = f"{store.user_tag(42)}:{CONTENT}"
    deleted = invalidate_cache(
        generate_cache_key(prefix, **entry_params(0)), generate_cache_key(prefix, **entry_params(2))
    )
    assert deleted == 2
    assert [is_served(42, CONTENT, entry_params(n)) for n in range(4)] == [False, True, False, True]
    assert is_served(43, CONTENT, entry_params(0))
    assert token_of(42, CONTENT) is not None


def test_invalidate_cache_of_nothing_or_of_missing_keys_deletes_nothing():
    put_entry(42, CONTENT, entry_params(0))
    assert invalidate_cache() == 0
    assert invalidate_cache(generate_cache_key("{u42}:content", **entry_params(9))) == 0
    assert is_served(42, CONTENT, entry_params(0))


# --- invalidate_pattern -------------------------------------------------------------------------


def this_releases_keys() -> set[bytes]:
    """Every key of this test process's api cache in the current release."""
    prefix = store.full_key("")
    return set(store.client().scan_iter(match=prefix + "*", count=1000))


def keys_of_user(user_id: int, among: set[bytes]) -> set[bytes]:
    prefix = store.full_key(store.user_tag(user_id) + ":").encode()
    return {key for key in among if key.startswith(prefix)}


@pytest.fixture
def small_scan_batches(settings):
    settings.RESEE_CACHE = {**django_settings.RESEE_CACHE, "SCAN_BATCH": 7}


def test_a_user_pattern_deletes_that_users_entries_in_scan_batches_and_no_one_elses(small_scan_batches, swap_redis):
    for n in range(50):
        put_entry(42, NAMESPACES[n % 3], entry_params(n))
    for user_id in (4, 420, 142, 24):
        put_entry(user_id, TODAY, entry_params(0))
    everything = this_releases_keys()
    users_keys = keys_of_user(42, everything)
    assert len(users_keys) == 53  # 50 entries and 3 namespace tokens

    recorder = record_client(swap_redis)
    assert invalidate_pattern("{u42}:*") == len(users_keys)

    assert this_releases_keys() == everything - users_keys
    unlinked = [len(args) for name, args in recorder.calls if name == "unlink"]
    assert max(unlinked) <= 7 and sum(unlinked) == len(users_keys)
    assert "keys" not in recorder.commands
    for user_id in (4, 420, 142, 24):
        assert is_served(user_id, TODAY, entry_params(0))


def test_a_pattern_that_matches_nothing_deletes_nothing():
    put_entry(42, TODAY, entry_params(0))
    everything = this_releases_keys()
    assert invalidate_pattern("{u43}:*") == 0
    assert this_releases_keys() == everything


@given(search=st.text(max_size=20))
@example(search="*")
@example(search="?")
@example(search="[a-z]*")
@example(search="\\*")
@example(search="")
@hypothesis_settings(max_examples=60, deadline=None)
def test_a_pattern_built_from_user_text_through_generate_cache_key_matches_only_that_entry(search):
    delete_this_runs_keys()
    others = ["", "a", "ab", "*", "?", "x" * 30, search + "x", "x" + search, search.upper(), "[a]"]
    for text in {search, *others}:
        put_entry(42, CONTENT, {"search": text})
    put_entry(4, CONTENT, {"search": search})

    assert invalidate_pattern(generate_cache_key("{u42}:content", search=search)) == 1

    assert not is_served(42, CONTENT, {"search": search})
    for text in set(others) - {search}:
        assert is_served(42, CONTENT, {"search": text}), text
    assert is_served(4, CONTENT, {"search": search})


@pytest.fixture
def foreign_keys():
    """Raw keys next to ours in the api database: another process's namespace, another alias of
    ours, another release of ours. Each one carries a `{u42}` entry a loose pattern could hit."""
    namespace = django_settings.REDIS_KEY_NAMESPACE
    raw = [
        f"{namespace}-other:api:{ENTRY_FORMAT}.1:{{u42}}:today:date=2024-05-15",
        f"other-{namespace}:api:{ENTRY_FORMAT}.1:{{u42}}:today",
        f"{namespace}:throttle:{ENTRY_FORMAT}.1:{{u42}}:today",
        f"{namespace}:api2:{ENTRY_FORMAT}.1:{{u42}}:today",
        f"{namespace}:api:{ENTRY_FORMAT}.2:{{u42}}:today",
        f"{namespace}:api:{ENTRY_FORMAT}.11:{{u42}}:today",
        f"{{u42}}:today:{namespace}-bare",
    ]
    client = store.client()
    for key in raw:
        client.set(key, b"foreign", ex=60)
    yield raw
    client.delete(*raw)


@pytest.mark.parametrize("pattern", ["*", "{u42}:*", "*u42*"])
def test_a_pattern_never_touches_keys_outside_this_alias_and_release(foreign_keys, pattern):
    put_entry(42, TODAY, entry_params(0))
    assert invalidate_pattern(pattern) == 2  # our entry and its namespace token
    assert not is_served(42, TODAY, entry_params(0))
    assert store.client().mget(foreign_keys) == [b"foreign"] * len(foreign_keys)
