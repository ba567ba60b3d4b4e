"""The cache under pressure: single-flight on a cold key, XFetch early recomputation,
stale-while-revalidate, bounded waiting, lock safety and compression."""

import math
import random
import threading
import time

import orjson
import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient

from content.services import content_create
from review import selectors as review_selectors
from utils import clock
from utils.cache_utils import singleflight, store
from utils.cache_utils.conf import TODAY
from utils.cache_utils.store import recompute_early

TODAY_URL = "/api/review/today/"


def cache_settings(**overrides):
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, **overrides})


def today_params(user_id: int) -> dict:
    """The key parameters of the entry a plain GET of today looks up: the user's shared one."""
    return review_selectors.today_shared_read(user_id=user_id).params


@pytest.fixture
def counted_today(monkeypatch):
    """Counts computations of today's shared entry, which a plain GET of today is cut from; each
    one takes `delay` seconds (the slow hook)."""
    calls = {"count": 0, "delay": 0.0}
    lock = threading.Lock()
    real = review_selectors.today_shared_for

    def slow(**kwargs):
        with lock:
            calls["count"] += 1
        time.sleep(calls["delay"])
        return real(**kwargs)

    monkeypatch.setattr(review_selectors, "today_shared_for", slow)
    return calls


# --- single-flight on a cold key ------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_hundred_concurrent_requests_on_a_cold_key_compute_once(make_user, counted_today):
    user = make_user("alice")
    for n in range(5):
        content_create(owner_id=user.id, title=f"card {n}")
    token = APIClient().post("/api/auth/token/", {"username": "alice", "password": "correct-horse-battery-9"})
    auth = f"Bearer {token.json()['access']}"
    warm = APIClient()
    warm.credentials(HTTP_AUTHORIZATION=auth)
    assert warm.get("/api/content/").status_code == 200  # loads the revocation hash: no SQL per request
    counted_today["delay"] = 0.3

    barrier, results = threading.Barrier(100), []

    def request():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=auth)
        try:
            barrier.wait(timeout=20)
            response = client.get(TODAY_URL)
            results.append((response.status_code, response.content, response["X-Cache"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=request) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 100
    assert counted_today["count"] == 1
    assert {status for status, _, _ in results} == {200}
    assert len({body for _, body, _ in results}) == 1
    assert orjson.loads(results[0][1])["count"] == 5
    assert sorted(result for _, _, result in results).count("MISS") == 1


# --- XFetch -----------------------------------------------------------------------------------


@pytest.mark.parametrize("distance", [0.1, 0.5, 1.0, 2.0])
@pytest.mark.parametrize("beta", [1.0, 2.0])
def test_early_recomputation_happens_at_the_xfetch_rate_near_expiry(distance, beta):
    """P(recompute) = exp(-(expiry - now) / (delta * beta)); with a fixed source the observed
    rate over 20,000 draws is within 0.015 of it."""
    rng, delta, draws = random.Random(1234), 0.2, 20_000
    now, expiry = 1000.0, 1000.0 + distance * delta
    early = sum(
        recompute_early(now=now, expiry=expiry, delta=delta, beta=beta, random=rng.random) for _ in range(draws)
    )
    assert abs(early / draws - math.exp(-distance / beta)) < 0.015


def test_early_recomputation_never_happens_far_from_expiry():
    rng = random.Random(99)
    far = [recompute_early(now=0.0, expiry=60.0, delta=0.5, beta=1.0, random=rng.random) for _ in range(50_000)]
    assert not any(far)


def test_an_expired_entry_is_always_recomputed_and_a_zero_draw_means_now():
    assert recompute_early(now=10.0, expiry=10.0, delta=0.0, beta=1.0, random=lambda: 0.5)
    assert recompute_early(now=0.0, expiry=10.0, delta=0.1, beta=1.0, random=lambda: 0.0)


def test_a_reader_refreshes_early_only_when_its_draw_says_so(alice, counted_today):
    alice.post("/api/content/", {"title": "card"})
    start = time.time()
    with clock.use(timestamp=lambda: start):
        assert alice.get(TODAY_URL)["X-Cache"] == "MISS"
    ttl = settings.RESEE_CACHE["TTL"][TODAY]
    near_expiry = start + ttl - 0.0001
    with clock.use(timestamp=lambda: near_expiry, random=lambda: 0.999999):
        assert alice.get(TODAY_URL)["X-Cache"] == "HIT"
    with clock.use(timestamp=lambda: near_expiry, random=lambda: 1e-12):
        assert alice.get(TODAY_URL)["X-Cache"] == "MISS"
    assert counted_today["count"] == 2


# --- stale-while-revalidate and bounded waits ---------------------------------------------------


def hold_the_lock(user_id: int) -> str:
    version = store.client().get(store.namespace_key(user_id, TODAY)).decode()
    lock = store.lock_key(user_id, TODAY, version, today_params(user_id))
    assert singleflight.acquire(lock, ttl_ms=10_000)
    return lock


def test_an_expired_entry_is_served_stale_while_another_request_recomputes(alice, counted_today):
    alice.post("/api/content/", {"title": "card"})
    first = alice.get(TODAY_URL)
    hold_the_lock(alice.user.id)
    just_expired = time.time() + settings.RESEE_CACHE["TTL"][TODAY] + 1
    with clock.use(timestamp=lambda: just_expired):
        stale = alice.get(TODAY_URL)
    assert stale["X-Cache"] == "STALE"
    assert stale.content == first.content
    assert counted_today["count"] == 1


def test_a_stale_entry_is_never_served_after_an_invalidation(alice, counted_today):
    alice.post("/api/content/", {"title": "card"})
    alice.get(TODAY_URL)
    hold_the_lock(alice.user.id)
    alice.post("/api/content/", {"title": "second card"})  # bumps the namespace
    just_expired = time.time() + settings.RESEE_CACHE["TTL"][TODAY] + 1
    with clock.use(timestamp=lambda: just_expired):
        response = alice.get(TODAY_URL)
    assert response["X-Cache"] == "MISS"
    assert response.json()["count"] == 2


def test_without_a_stale_entry_a_request_waits_a_bounded_time_then_computes_itself(alice, counted_today):
    alice.post("/api/content/", {"title": "card"})
    store.claim_version(user_id=alice.user.id, namespace=TODAY)
    hold_the_lock(alice.user.id)  # a holder that never finishes
    with cache_settings(LOCK_WAIT_MS=200, LOCK_POLL_MS=20):
        started = time.monotonic()
        response = alice.get(TODAY_URL)
        waited = time.monotonic() - started
    assert response["X-Cache"] == "MISS"
    assert response.json()["count"] == 1
    assert 0.2 <= waited < 1.0


def test_a_waiting_request_stops_waiting_once_a_write_has_outdated_the_holders_result(alice, counted_today):
    """A write bumps the namespace while the holder computes: whatever it stores is dead under the
    new token, so a request waiting for it computes itself at once instead of waiting it out."""
    alice.post("/api/content/", {"title": "card"})
    store.claim_version(user_id=alice.user.id, namespace=TODAY)
    hold_the_lock(alice.user.id)  # a holder that never finishes

    def write_later():
        time.sleep(0.1)
        store.bump(user_id=alice.user.id, namespaces=[TODAY])

    writer = threading.Thread(target=write_later)
    with cache_settings(LOCK_WAIT_MS=10_000, LOCK_POLL_MS=10):
        writer.start()
        started = time.monotonic()
        response = alice.get(TODAY_URL)
        waited = time.monotonic() - started
    writer.join(timeout=5)
    assert response["X-Cache"] == "MISS"
    assert response.json()["count"] == 1
    assert waited < 2.0, f"waited {waited:.1f} s for a result the write had outdated"


def test_a_waiting_request_takes_the_holders_result_when_it_lands(alice, counted_today):
    alice.post("/api/content/", {"title": "card"})
    version = store.claim_version(user_id=alice.user.id, namespace=TODAY)
    hold_the_lock(alice.user.id)
    body = b'{"total_count":42,"due":0,"due_by_category":{},"items":[]}'  # not what the database says

    def land_later():
        time.sleep(0.1)
        store.store(
            user_id=alice.user.id,
            namespace=TODAY,
            params=today_params(alice.user.id),
            version=version,
            body=body,
            compute_seconds=0.1,
        )

    lander = threading.Thread(target=land_later)
    with cache_settings(LOCK_WAIT_MS=2000, LOCK_POLL_MS=10):
        lander.start()
        response = alice.get(TODAY_URL)
    lander.join(timeout=5)
    assert response["X-Cache"] == "HIT"
    assert (response.json()["count"], response.json()["total_count"]) == (0, 42)  # cut from the landed body
    assert counted_today["count"] == 0


# --- lock safety, compression -------------------------------------------------------------------


def test_a_lock_is_released_only_by_its_holder(db):
    lock = store.full_key("{u1}:lock:test")
    token = singleflight.acquire(lock, ttl_ms=5000)
    assert token is not None
    assert singleflight.acquire(lock, ttl_ms=5000) is None
    assert singleflight.release(lock, "someone-else") is False
    assert store.client().get(lock) == token.encode()
    assert singleflight.release(lock, token) is True
    assert singleflight.acquire(lock, ttl_ms=5000) is not None


def test_a_lock_expires_by_itself_so_a_crashed_holder_cannot_block_forever(db):
    lock = store.full_key("{u1}:lock:crash")
    assert singleflight.acquire(lock, ttl_ms=50)
    time.sleep(0.12)
    assert singleflight.acquire(lock, ttl_ms=50) is not None


def test_large_bodies_are_stored_compressed_and_served_unchanged(db):
    body = orjson.dumps({"results": [{"title": f"card {n}", "body": "x" * 50} for n in range(400)]})
    with cache_settings(COMPRESS_MIN_BYTES=1024):
        version = store.claim_version(user_id=7, namespace=TODAY)
        store.store(user_id=7, namespace=TODAY, params={}, version=version, body=body, compute_seconds=0.01)
        raw = store.client().get(store.entry_key(7, TODAY, {}))
        served = store.lookup(user_id=7, namespace=TODAY, params={})
    assert b'"z":1' in raw.partition(b"\n")[0]
    assert len(raw) < len(body) / 4
    assert served.body == body


def test_small_bodies_are_stored_as_they_are(db):
    version = store.claim_version(user_id=7, namespace=TODAY)
    store.store(user_id=7, namespace=TODAY, params={}, version=version, body=b'{"a":1}', compute_seconds=0.01)
    assert store.client().get(store.entry_key(7, TODAY, {})).endswith(b'\n{"a":1}')
