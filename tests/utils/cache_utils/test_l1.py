"""The optional L1 tier: bounded LRU, local read-your-writes, and cross-process eviction by
pub/sub within a measured bound."""

import subprocess
import sys
import time

import pytest
from django.conf import settings
from django.test import override_settings

from content.models import Content
from content.services import content_create, content_update
from tests.helpers import record_client
from tests.servers import app_env
from utils import redis_layer
from utils.cache_utils import l1, store

TODAY_URL = "/api/review/today/"


def entry(body: bytes) -> store.Entry:
    return store.Entry(version="t", created_at=0.0, compute_seconds=0.0, etag='"e"', body=body)


def l1_on(**overrides):
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "L1_ENABLED": True, **overrides})


def wait_until_l1_is_live(seconds: float = 5.0) -> l1.LocalCache:
    """The L1 serves only once its subscriber thread has subscribed to the bump channel."""
    deadline = time.monotonic() + seconds
    while (local := l1.local_cache()) is None:
        assert time.monotonic() < deadline, "the L1 subscriber never subscribed"
        time.sleep(0.01)
    return local


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_local_cache_is_bounded_in_entries_and_evicts_the_least_recently_used():
    cache = l1.LocalCache(max_entries=2, max_bytes=1000, ttl_seconds=10)
    cache.put((1, "today", "a"), entry(b"a"))
    cache.put((1, "today", "b"), entry(b"b"))
    assert cache.get((1, "today", "a")) is not None  # a is now the most recently used
    cache.put((1, "today", "c"), entry(b"c"))
    assert cache.get((1, "today", "b")) is None
    assert cache.get((1, "today", "a")) is not None and cache.get((1, "today", "c")) is not None


def test_the_local_cache_is_bounded_in_bytes():
    cache = l1.LocalCache(max_entries=100, max_bytes=10, ttl_seconds=10)
    cache.put((1, "today", "a"), entry(b"123456"))
    cache.put((1, "today", "b"), entry(b"123456"))
    assert len(cache) == 1 and cache.get((1, "today", "b")) is not None
    cache.put((1, "today", "huge"), entry(b"x" * 11))
    assert cache.get((1, "today", "huge")) is None


def test_local_entries_expire_after_their_ttl():
    clock = FakeClock()
    cache = l1.LocalCache(max_entries=10, max_bytes=1000, ttl_seconds=2, clock=clock)
    cache.put((1, "today", "a"), entry(b"a"))
    clock.now = 1.9
    assert cache.get((1, "today", "a")) is not None
    clock.now = 2.0
    assert cache.get((1, "today", "a")) is None


def test_evicting_a_users_namespaces_spares_other_users_and_namespaces():
    cache = l1.LocalCache(max_entries=10, max_bytes=1000, ttl_seconds=10)
    for key in [(1, "today", "a"), (1, "stats", "a"), (2, "today", "a")]:
        cache.put(key, entry(b"x"))
    cache.evict(1, {"today"})
    assert cache.get((1, "today", "a")) is None
    assert cache.get((1, "stats", "a")) is not None and cache.get((2, "today", "a")) is not None


def test_an_l1_hit_makes_no_redis_call_and_a_local_write_is_seen_at_once(redis_topology, alice, swap_redis):
    recorder = record_client(swap_redis)
    # Note: written before the L1 is on, so no bump message is in flight to the subscriber thread,
    # which could evict the entry the MISS below puts (a late eviction costs a Redis lookup).
    alice.post("/api/content/", {"title": "first"})
    with l1_on():
        wait_until_l1_is_live()
        assert alice.get(TODAY_URL)["X-Cache"] == "MISS"
        recorder.calls.clear()
        response = alice.get(TODAY_URL)
        assert response["X-Cache"] == "HIT"
        assert "mget" not in recorder.sent
        alice.post("/api/content/", {"title": "second"})
        assert alice.get(TODAY_URL).json()["count"] == 2


def test_the_l1_is_not_used_until_it_is_subscribed_to_bumps(alice, monkeypatch, swap_redis):
    """Without the subscription another process's bump could be missed: serve from Redis."""
    monkeypatch.setattr(l1, "_listen", lambda cache: None)
    recorder = record_client(swap_redis)
    with l1_on():
        assert alice.get(TODAY_URL)["X-Cache"] == "MISS"
        recorder.calls.clear()
        assert alice.get(TODAY_URL)["X-Cache"] == "HIT"
        assert "mget" in recorder.sent
        assert l1.local_cache() is None


READER = """
import sys, time, django
django.setup()
from django.test import Client
from utils.cache_utils import l1
client = Client(HTTP_AUTHORIZATION="Bearer " + sys.argv[1])
def title():
    response = client.get("/api/content/")
    return response.json()["results"][0]["title"], response["X-Cache"]
deadline = time.time() + 5
while l1.local_cache() is None and time.time() < deadline:
    time.sleep(0.01)
title(); title()
assert title() == ("old", "HIT"), title()
assert len(l1.local_cache()) == 1, "the entry is not in this process's L1"
print("ready", flush=True)
written_at = float(sys.stdin.readline())
deadline = time.time() + 10
while time.time() < deadline:
    if title()[0] == "new":
        print(f"seen {time.time() - written_at:.4f}", flush=True)
        break
    time.sleep(0.002)
else:
    print("never", flush=True)
"""


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_another_process_stops_serving_the_old_entry_within_the_bound(make_client, redis_topology):
    """The reader's L1 TTL is 30 s, so only the pub/sub eviction can make it see the write in time."""
    alice = make_client("alice")
    content = content_create(owner_id=alice.user.id, title="old")
    env = app_env(CACHE_L1_ENABLED="1", CACHE_L1_TTL_SECONDS="30")
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, alice.tokens["access"]],
        env=env,
        cwd=settings.BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "ready", reader.stderr.read()
        with l1_on():  # the writer publishes its bumps
            content_update(content=Content.objects.get(pk=content.pk), title="new")
        reader.stdin.write(f"{time.time()}\n")
        reader.stdin.flush()
        verdict = reader.stdout.readline().split()
    finally:
        reader.kill()
        reader.wait(timeout=10)
    assert verdict[0] == "seen", verdict
    print(f"L1: the other process saw the write after {float(verdict[1]) * 1000:.1f} ms")
    assert float(verdict[1]) < 0.5


class _DyingPubSub:
    """Subscribes, then fails as hiredis does on a connection closed under it."""

    def subscribe(self, *channels):
        pass

    def get_message(self, timeout=None):
        raise TypeError("argument must be an int, or have a fileno() method.")

    def close(self):
        pass


class _ClientWithDyingPubSub:
    def __init__(self, real):
        self._real = real

    def pubsub(self, **kwargs):
        return _DyingPubSub()

    def __getattr__(self, name):
        return getattr(self._real, name)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the death is the point
def test_an_l1_whose_subscriber_dies_of_an_unexpected_error_stops_serving(transactional_db, swap_redis):
    swap_redis(cache=_ClientWithDyingPubSub(redis_layer.connect(redis_layer.CACHE)))
    with l1_on():
        l1.local_cache()  # starts the subscriber, which subscribes and then dies
        cache, subscriber = l1._local, l1._subscriber
        subscriber.join(timeout=5)
        assert not subscriber.is_alive()
        assert not cache.live.is_set()
