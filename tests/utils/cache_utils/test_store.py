"""Entries in Redis: the stored format, lookup against the namespace token, claiming and bumping
tokens, one round trip per lookup, and what happens when Redis evicts a token."""

import re
from datetime import date

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from prometheus_client import REGISTRY

from tests.helpers import is_served, put_entry, record_client, token_of
from utils.cache_utils import store
from utils.cache_utils.conf import CONTENT, STATS, TODAY, cache_settings, ttl_for

TOKEN = re.compile(r"[0-9a-f]{16}")
PARAMS = {"date": date(2024, 5, 15), "category_slug": None}
BODIES = [b"{}", b'{"title": "caf\xc3\xa9"}\n\n{"x": 1}\r\n', "日本語 \u2028 😀\n".encode(), b"\x00\xff\n\xfe"]

few = hypothesis_settings(max_examples=200, deadline=None)


def lookup(user_id: int = 42, namespace: str = TODAY, params: dict = PARAMS) -> store.Entry:
    return store.lookup(user_id=user_id, namespace=namespace, params=params)


def miss_of(user_id: int = 42, namespace: str = TODAY, params: dict = PARAMS) -> store.CacheMiss:
    with pytest.raises(store.CacheMiss) as miss:
        lookup(user_id, namespace, params)
    return miss.value


def claim(user_id: int = 42, namespace: str = TODAY) -> str:
    return store.claim_version(user_id=user_id, namespace=namespace)


def save(version: str, body: bytes = b"{}", user_id: int = 42, namespace: str = TODAY, params: dict = PARAMS):
    return store.store(
        user_id=user_id, namespace=namespace, params=params, version=version, body=body, compute_seconds=0.25
    )


def bump(user_id: int = 42, namespaces=(TODAY,)) -> None:
    store.bump(user_id=user_id, namespaces=list(namespaces))


def evict_namespace(user_id: int = 42, namespace: str = TODAY) -> None:
    """What an LRU eviction, a TTL expiry or a restart does to a token."""
    assert store.client().delete(store.namespace_key(user_id, namespace)) == 1


# --- the stored format --------------------------------------------------------------------------


@given(
    version=st.text(),
    created_at=st.floats(min_value=0, max_value=4e9),
    compute_seconds=st.floats(min_value=0, max_value=1e6),
    body=st.binary(),
)
@example(version="ab12", created_at=1.5, compute_seconds=0.0, body=b"line 1\nline 2\r\n\n")
@example(version="ab12", created_at=1.5, compute_seconds=0.0, body="naïve 日本 😀\n".encode())
@few
def test_an_entry_survives_encoding_and_decoding_unchanged(version, created_at, compute_seconds, body):
    entry = store.Entry(
        version=version, created_at=created_at, compute_seconds=compute_seconds, etag=store.etag_for(body), body=body
    )
    assert store.decode(store.encode(entry)) == entry
    assert store.decode(store.encode(entry), inflate=False).plain() == body


def test_a_large_body_is_stored_compressed_and_can_be_read_without_inflating_it():
    body = b'{"rows":[' + b",".join(b'{"id":%d,"title":"card"}' % n for n in range(2000)) + b"]}"
    entry = store.Entry(version="v", created_at=1.0, compute_seconds=0.1, etag=store.etag_for(body), body=body)
    kept = store.decode(store.encode(entry), inflate=False)
    assert kept.compressed and len(kept.body) < len(body) // 4
    assert kept.plain() == body and kept.etag == entry.etag
    assert store.decode(store.encode(entry)) == entry


def test_an_entry_over_the_size_cap_is_not_stored_and_is_counted(settings):
    settings.RESEE_CACHE = {**settings.RESEE_CACHE, "MAX_ENTRY_BYTES": 1024, "COMPRESS_MIN_BYTES": 16384}
    version = claim()
    oversize = REGISTRY.get_sample_value("resee_cache_oversize_total", {"endpoint": TODAY}) or 0

    assert save(version, b"x" * 1024) is None  # with its header, over 1,024 bytes
    assert miss_of().version == version
    assert REGISTRY.get_sample_value("resee_cache_oversize_total", {"endpoint": TODAY}) == oversize + 1
    assert save(version, b"x" * 900) is not None
    assert lookup().body == b"x" * 900


def test_the_encoded_entry_is_a_json_header_line_then_the_body_bytes():
    entry = store.Entry(version="ab12", created_at=1.5, compute_seconds=0.25, etag='"e"', body=b"a\nb")
    assert store.encode(entry) == b'{"v":"ab12","c":1.5,"d":0.25,"e":"\\"e\\""}\na\nb'


@pytest.mark.parametrize("body", BODIES)
def test_a_stored_body_comes_back_byte_for_byte(body):
    saved = save(claim(), body=body)
    served = lookup()
    assert served.body == body
    assert served == saved
    assert served.etag == store.etag_for(body)


# --- lookup -------------------------------------------------------------------------------------


def test_a_lookup_with_nothing_stored_misses_without_a_version():
    assert miss_of().version is None


def test_a_lookup_of_a_namespace_without_the_entry_misses_with_the_namespace_token():
    token = claim()
    assert miss_of().version == token


def test_an_entry_tagged_with_another_token_is_a_miss_that_carries_the_current_token():
    token = claim()
    save("0123456789abcdef")
    assert miss_of().version == token


def test_an_entry_tagged_with_the_current_token_is_returned():
    token = claim()
    save(token, body=b'{"due": 3}')
    entry = lookup()
    assert (entry.version, entry.body, entry.compute_seconds) == (token, b'{"due": 3}', 0.25)


def test_an_entry_is_only_returned_for_its_own_user_namespace_and_parameters():
    put_entry(42, TODAY, PARAMS)
    for namespace in (STATS, CONTENT):
        claim(42, namespace)
    claim(43, TODAY)
    assert is_served(42, TODAY, PARAMS)
    assert not is_served(43, TODAY, PARAMS)
    assert not is_served(42, STATS, PARAMS)
    assert not is_served(42, TODAY, {**PARAMS, "category_slug": "maths"})
    assert not is_served(42, TODAY, {"date": date(2024, 5, 16), "category_slug": None})


@pytest.mark.parametrize("stored", [False, True], ids=["miss", "hit"])
def test_a_lookup_is_one_round_trip(swap_redis, stored):
    if stored:
        put_entry(42, TODAY, PARAMS)
    recorder = record_client(swap_redis)
    assert is_served(42, TODAY, PARAMS) is stored
    assert recorder.commands == ["mget"]


def test_entries_and_tokens_expire():
    token = claim()
    save(token)
    client = store.client()
    entry_ttl = client.ttl(store.entry_key(42, TODAY, PARAMS))
    namespace_ttl = client.ttl(store.namespace_key(42, TODAY))
    # Redis keeps the entry past its logical expiry for the stale-while-revalidate window.
    assert ttl_for(TODAY) < entry_ttl <= ttl_for(TODAY) + cache_settings.STALE_SECONDS
    assert 0 < namespace_ttl <= cache_settings.NAMESPACE_TTL


# --- claim_version ------------------------------------------------------------------------------


def test_claiming_creates_a_random_token_once_and_returns_it_again_later():
    assert token_of(42) is None
    first = claim()
    assert TOKEN.fullmatch(first)
    assert token_of(42) == first
    assert [claim() for _ in range(3)] == [first] * 3


def test_tokens_are_random_not_counters():
    tokens = [claim(user_id, namespace) for user_id in range(1, 11) for namespace in (TODAY, STATS, CONTENT)]
    assert len(set(tokens)) == len(tokens)


def test_a_token_claimed_after_the_namespace_was_deleted_is_a_new_one():
    seen = set()
    for _ in range(5):
        token = claim()
        assert token not in seen
        seen.add(token)
        evict_namespace()


# --- bump -----------------------------------------------------------------------------------------


def test_a_bump_replaces_the_token_and_the_entry_stored_under_the_old_one_is_no_longer_returned():
    old = put_entry(42, TODAY, PARAMS)
    bump()
    new = token_of(42)
    assert TOKEN.fullmatch(new) and new != old
    assert miss_of().version == new
    assert claim() == new


def test_a_bump_touches_only_the_namespaces_and_the_user_it_names():
    for namespace in (TODAY, STATS, CONTENT):
        put_entry(42, namespace, PARAMS)
    put_entry(43, TODAY, PARAMS)
    bump(42, (TODAY, CONTENT))
    assert not is_served(42, TODAY, PARAMS)
    assert not is_served(42, CONTENT, PARAMS)
    assert is_served(42, STATS, PARAMS)
    assert is_served(43, TODAY, PARAMS)


def test_every_bump_gives_a_token_never_used_before():
    tokens = {claim()}
    for _ in range(10):
        bump()
        tokens.add(token_of(42))
    assert len(tokens) == 11


def test_an_entry_computed_before_a_bump_and_stored_after_it_is_never_served():
    version = miss_of().version or claim()  # what a request reads before computing
    bump()  # a write commits while it computes
    save(version)
    assert miss_of().version == token_of(42) != version


def test_the_read_through_cycle_miss_claim_store_hit_bump_miss():
    assert miss_of().version is None
    first = claim()
    save(first, body=b"[1]")
    assert lookup().body == b"[1]"
    bump()
    second = miss_of().version
    save(second, body=b"[1, 2]")
    assert lookup().body == b"[1, 2]"


# --- eviction -------------------------------------------------------------------------------------


def test_after_the_token_is_evicted_the_old_entry_stays_dead_and_a_new_claim_does_not_resurrect_it():
    old = put_entry(42, TODAY, PARAMS, body=b"old")
    bump()
    bumped = token_of(42)
    evict_namespace()
    assert miss_of().version is None
    fresh = claim()
    assert fresh not in (old, bumped)
    assert miss_of().version == fresh


def test_an_entry_whose_own_token_was_evicted_is_not_served_under_the_next_token():
    old = put_entry(42, TODAY, PARAMS, body=b"old")
    evict_namespace()
    assert claim() != old
    assert not is_served(42, TODAY, PARAMS)
