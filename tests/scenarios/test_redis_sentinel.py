"""The app on a Redis watched by Sentinel (REDIS_MODE=sentinel): a master, a replica and three
sentinels of the test's own, on free loopback ports. The master is SIGKILLed; the sentinels
promote the replica; the app follows it without a restart. Replication is asynchronous, so the
promoted replica may lack the last bumps the old master acknowledged: the app flushes the cache
and revocation databases of a master it has not checked yet, so nothing from before a write can
show after the failover.

The sentinels run with the shipped breaker (REDIS_BREAKER_COOLDOWN_SECONDS 5 s): the probe of an
open circuit, not a short cool-down, is what lets the app follow a promotion quickly."""

import os
import signal
import threading
import time

import pytest
import redis
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from content.models import Content
from tests.helpers import BYPASS, CONTENTS, DEFAULT_PASSWORD, HIT, URLS, TodayReaders, cache_off, content_url
from tests.servers import RedisSentinelSet, free_loopback_port, sentinel_mode
from utils import redis_layer
from utils.cache_utils import invalidate_pattern, store
from utils.cache_utils.conf import CONTENT
from utils.cache_utils.models import InvalidationDebt

pytestmark = pytest.mark.django_db(transaction=True)

FOLLOW_SECONDS = 10.0  # the bound on waiting for the promotion and the hits, whatever happens
HIT_AFTER_PROMOTION = 2.0  # the target: the first HIT within this of the promotion
LOAD_SECONDS = 25.0  # the bound on the load test, whatever happens


@pytest.fixture
def sentinels(tmp_path):
    watched = RedisSentinelSet(tmp_path / "sentinel")
    watched.start()
    try:
        with sentinel_mode(watched):  # the shipped breaker, cool-down and probe
            yield watched
    finally:
        watched.stop()


def truth(client, url: str):
    with cache_off():
        return client.get(url).json()


def wait_for_promotion(sentinels: RedisSentinelSet, killed_at: float) -> float:
    while sentinels.master_port() != sentinels.replica.port:
        assert time.monotonic() - killed_at < FOLLOW_SECONDS, "the sentinels promoted no replica"
        time.sleep(0.1)
    return time.monotonic() - killed_at


def depose_by_pause(sentinels: RedisSentinelSet) -> None:
    """The replica caught up, the master stopped past the sentinels' down-after until they promote
    the replica, then resumed: a master still, until they demote it seconds later, with the
    connections open to it (no request meanwhile)."""
    with sentinels.master.admin() as master:
        assert master.wait(1, 2000) == 1, "the replica did not catch up"
    os.kill(sentinels.master.proc.pid, signal.SIGSTOP)
    try:
        wait_for_promotion(sentinels, time.monotonic())
    finally:
        os.kill(sentinels.master.proc.pid, signal.SIGCONT)


def test_the_cache_serves_from_the_sentinels_master(sentinels, alice):
    alice.post(CONTENTS, {"title": "a card"})
    for url in URLS.values():
        alice.get(url)
        response = alice.get(url)
        assert response["X-Cache"] == HIT and response.json() == truth(alice, url)
    with sentinels.master.admin(db=1) as cache_db:
        assert cache_db.dbsize() > 0, "the entries are in the master's cache database"
        # the operator's own client (a longer timeout) finds the same master and database
        assert invalidate_pattern(f"{store.user_tag(alice.user.pk)}:*") > 0
        assert cache_db.dbsize() == 0


def test_with_passwords_on_the_servers_and_the_sentinels_it_serves_and_with_a_wrong_one_it_bypasses(tmp_path, alice):
    watched = RedisSentinelSet(tmp_path / "sentinel", password="master-secret", sentinel_password="sentinel-secret")
    watched.start()
    try:
        with sentinel_mode(watched):
            alice.get(URLS["today"])
            assert alice.get(URLS["today"])["X-Cache"] == HIT
        with sentinel_mode(watched, REDIS_PASSWORD="wrong"):
            responses = [alice.get(URLS["today"]) for _ in range(4)]
        assert [(r.status_code, r["X-Cache"]) for r in responses] == [(200, BYPASS)] * 4
    finally:
        watched.stop()


def test_a_promoted_replica_that_missed_the_last_writes_serves_nothing_from_before_them(sentinels, alice, bob):
    card = alice.post(CONTENTS, {"title": "before"}).json()
    for url in URLS.values():
        alice.get(url), alice.get(url)  # entries on the master, and by now on the replica
    assert bob.get(URLS["today"]).status_code == 200  # his revocation hash, loaded
    with sentinels.master.admin() as master:
        assert master.wait(1, 2000) == 1, "the replica did not catch up"
    # The replica's link breaks (pointed at a port nothing listens on): what the master
    # acknowledges from now on, it never sees. The sentinels still count it as the master's.
    with sentinels.replica.admin() as replica:
        replica.replicaof("127.0.0.1", free_loopback_port())
    assert alice.patch(content_url(card["id"]), {"title": "after"}).status_code == 200
    assert bob.post("/api/auth/logout/").status_code == 204
    sentinels.master.kill()
    killed_at = time.monotonic()
    wait_for_promotion(sentinels, killed_at)

    hits = set()
    while len(hits) < len(URLS):
        assert time.monotonic() - killed_at < FOLLOW_SECONDS, f"hits from the promoted replica only for {hits}"
        for name, url in URLS.items():
            response = alice.get(url)
            assert response.status_code == 200
            assert response.json() == truth(alice, url), f"{name} ({response['X-Cache']}) from before the write"
            if response["X-Cache"] == HIT:
                hits.add(name)
        time.sleep(0.05)
    titles = [item["title"] for item in alice.get(URLS["content"]).json()["results"]]
    assert titles == ["after"]
    assert bob.get(URLS["today"]).status_code == 401, "a logout the replica never saw still holds"


def test_a_bump_the_deposed_master_took_goes_again_to_the_promoted_replica_before_the_write_answers(sentinels, alice):
    """The master stopped past the sentinels' down-after: they promote the replica. Resumed, the
    old master takes writes from the connections still open to it until the sentinels demote it,
    and drops them then. A rename's bump sent there is acknowledged by no replica, from a master
    the sentinels no longer name: it goes again to the new master before the PATCH answers."""
    card = alice.post(CONTENTS, {"title": "before"}).json()
    alice.get(URLS["content"])
    assert alice.get(URLS["content"])["X-Cache"] == HIT
    depose_by_pause(sentinels)
    namespace = store.namespace_key(alice.user.pk, CONTENT)
    with sentinels.replica.admin(db=settings.REDIS_DB_CACHE) as promoted:
        token = promoted.get(namespace)  # the master's, replicated before the pause
    assert token is not None
    assert alice.patch(content_url(card["id"]), {"title": "after"}).status_code == 200

    with sentinels.replica.admin(db=settings.REDIS_DB_CACHE) as promoted:
        assert promoted.get(namespace) != token, "the bump went only to the deposed master"
    deadline = time.monotonic() + FOLLOW_SECONDS
    while (response := alice.get(URLS["content"]))["X-Cache"] != HIT:
        assert [item["title"] for item in response.json()["results"]] == ["after"], response["X-Cache"]
        assert time.monotonic() < deadline, "no HIT from the promoted replica"
        time.sleep(0.05)
    assert [item["title"] for item in response.json()["results"]] == ["after"]


def test_once_the_sentinels_announce_a_new_master_a_process_reads_nothing_from_the_deposed_one(sentinels, alice):
    """The master stopped past the sentinels' down-after: they promote the replica. Resumed, the old
    master stays a master until they demote it, seconds later, and this process's connections to
    it are still open (no request meanwhile). Another process's write lands on the new master:
    the sentinels' +switch-master has told this one to check its master before its next read."""
    card = alice.post(CONTENTS, {"title": "before"}).json()
    alice.get(URLS["content"])
    assert alice.get(URLS["content"])["X-Cache"] == HIT
    depose_by_pause(sentinels)
    # Another process's rename: the row (SQL of its own: this process sends no bump), and the bump
    # on the master the sentinels name.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Content._meta.db_table} SET title = 'after' WHERE id = %s", [card["id"]])
    with sentinels.replica.admin(db=settings.REDIS_DB_CACHE) as promoted:
        promoted.set(store.namespace_key(alice.user.pk, CONTENT), "another-process-bump")
    heard_by = time.monotonic() + 2.0
    while redis_layer.server_of(redis_layer.CACHE) not in redis_layer.current().failover.unchecked:
        assert time.monotonic() < heard_by, "the sentinels' +switch-master was not heard"
        time.sleep(0.01)

    response = alice.get(URLS["content"])
    assert [item["title"] for item in response.json()["results"]] == ["after"], response["X-Cache"]
    with sentinels.master.admin() as deposed:
        assert deposed.info("replication")["role"] == "master", "demoted already: the case needs it undemoted"


def test_a_deposed_master_named_again_before_its_demotion_serves_nothing_from_its_first_term(sentinels, alice, bob):
    """The master stopped past the sentinels' down-after: they promote the replica. Resumed, the
    old master stays a master (the sentinels demote it only seconds later) with its first term's
    data. A rename and a logout go to the promoted replica, which is then killed: the sentinels name
    the old master again. That promotion is a no-op on a server that never stopped being a master
    (same replication ID), yet it missed every write of the second term."""
    card = alice.post(CONTENTS, {"title": "before"}).json()
    for url in URLS.values():
        alice.get(url), alice.get(url)
    assert bob.get(URLS["today"]).status_code == 200
    depose_by_pause(sentinels)
    assert alice.patch(content_url(card["id"]), {"title": "after"}).status_code == 200
    assert bob.post("/api/auth/logout/").status_code == 204
    with sentinels.master.admin() as deposed:
        assert deposed.info("replication")["role"] == "master", "demoted already: the case needs it undemoted"
    sentinels.replica.kill()
    killed_at = time.monotonic()
    while sentinels.master_port() != sentinels.master.port:
        assert time.monotonic() - killed_at < FOLLOW_SECONDS, "the sentinels did not name the old master again"
        time.sleep(0.1)

    for name, url in URLS.items():
        response = alice.get(url)
        assert response.status_code == 200
        assert response.json() == truth(alice, url), f"{name} ({response['X-Cache']}) from the first term"
    assert bob.get(URLS["today"]).status_code == 401, "a logout of the second term no longer holds"


def test_with_the_replica_away_a_bump_no_replica_acknowledges_stands_on_the_master(sentinels, alice):
    """The replica stopped: the sentinels still name the master, so a write whose WAIT finds no
    replica stands there (no debt, no failure counted), slowed by that wait alone."""
    card = alice.post(CONTENTS, {"title": "before"}).json()
    alice.get(URLS["content"])
    sentinels.replica.stop()
    assert alice.patch(content_url(card["id"]), {"title": "after"}).status_code == 200
    assert not InvalidationDebt.objects.exists()
    assert redis_layer.healthy(redis_layer.CACHE)
    for _ in range(2):  # the refresh-on-write's entry, or a miss and then its entry
        response = alice.get(URLS["content"])
        assert [item["title"] for item in response.json()["results"]] == ["after"], response["X-Cache"]
    assert response["X-Cache"] == HIT


@pytest.mark.integration  # threads writing at once: SQLite's in-memory test database would refuse them
def test_the_master_killed_under_load_reads_stay_200_writes_commit_and_the_app_follows_the_replica(
    sentinels, make_user, monkeypatch
):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "1000000/s")  # load, not a limit test
    user = make_user("alice")
    token = APIClient().post("/api/auth/token/", {"username": "alice", "password": DEFAULT_PASSWORD}).json()["access"]
    card = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}").post(CONTENTS, {"title": "v0"}).json()
    committed, killed_at = 0, None  # the last title version whose write has returned
    first_hit_after, done = [], threading.Event()
    statuses, violations, errors = [], [], []
    deadline = time.monotonic() + LOAD_SECONDS

    def client():
        return APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")

    def writer():
        nonlocal committed
        api, version = client(), 0
        try:
            while not done.is_set() and time.monotonic() < deadline:
                version += 1
                response = api.patch(content_url(card["id"]), {"title": f"v{version}"})
                statuses.append(("write", response.status_code))
                if response.status_code == 200:
                    committed = version
                time.sleep(0.02)
        except Exception as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            connection.close()

    def reader():
        api = client()
        try:
            while not done.is_set() and time.monotonic() < deadline:
                floor = committed
                response = api.get(URLS["content"])
                statuses.append(("read", response.status_code))
                if response.status_code != 200:
                    continue
                seen = int(response.json()["results"][0]["title"].removeprefix("v"))
                if seen < floor:
                    violations.append((floor, seen, response["X-Cache"]))
                if killed_at is not None and response["X-Cache"] == HIT and not first_hit_after:
                    first_hit_after.append(time.monotonic() - killed_at)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(3)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    sentinels.master.kill()
    killed_at = time.monotonic()
    promoted_after = wait_for_promotion(sentinels, killed_at)
    while not first_hit_after and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1.0)  # more reads and writes on the new master
    done.set()
    for thread in threads:
        thread.join(timeout=LOAD_SECONDS)

    assert not errors, errors
    reads = [status for kind, status in statuses if kind == "read"]
    writes = [status for kind, status in statuses if kind == "write"]
    assert reads and set(reads) == {200}, f"reads answered {sorted(set(reads))}"
    assert writes and set(writes) == {200}, f"writes answered {sorted(set(writes))}"
    assert violations == [], f"reads older than a returned write: {violations[:5]}"
    assert first_hit_after and first_hit_after[0] < FOLLOW_SECONDS, "no hit from the promoted replica in time"
    print(f"sentinel: promoted after {promoted_after:.1f} s, first hit after {first_hit_after[0]:.1f} s")
    with cache_off():
        final = client().get(URLS["content"])
    assert final["X-Cache"] == BYPASS and final.json()["results"][0]["title"] == f"v{committed}"
    assert Content.objects.get(pk=card["id"]).owner_id == user.id


class Promotion:
    """Watches, every 10 ms from a thread of its own, for the moment the replica says it is the
    master (ROLE) and the moment a sentinel first names it (SENTINEL GET-MASTER-ADDR-BY-NAME):
    the time of the round that saw it, so never later than it happened plus 10 ms."""

    def __init__(self, sentinels: RedisSentinelSet):
        self.sentinels = sentinels
        self.role_at: float | None = None
        self.named_at: float | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> "Promotion":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._thread.join(timeout=FOLLOW_SECONDS + 1)

    def _watch(self) -> None:
        replica = self.sentinels.replica.admin(timeout=0.5)
        watchers = [sentinel.admin() for sentinel in self.sentinels.sentinels]
        deadline = time.monotonic() + FOLLOW_SECONDS
        while (self.role_at is None or self.named_at is None) and time.monotonic() < deadline:
            now = time.monotonic()
            if self.role_at is None and replica.role()[0] == b"master":
                self.role_at = now
            if self.named_at is None and any(self._names_the_replica(watcher) for watcher in watchers):
                self.named_at = now
            time.sleep(0.01)
        for client in (replica, *watchers):
            client.close()

    def _names_the_replica(self, watcher: redis.Redis) -> bool:
        try:
            return (
                int(watcher.sentinel_get_master_addr_by_name(RedisSentinelSet.NAME)[1]) == self.sentinels.replica.port
            )
        except redis.RedisError:
            return False


@pytest.mark.integration  # reader threads and a write at once: SQLite's in-memory test database would refuse them
def test_with_the_shipped_breaker_the_first_hit_comes_within_2_s_of_the_promotion_and_nothing_stale(
    sentinels, make_user, monkeypatch
):
    """The master SIGKILLed while three threads read a learner's today list and her completion of
    a card is sent right after the kill (Redis down: its bump is a debt). The promoted replica is
    checked (flushed) and the debt paid before its first answer is used; no read begun after the
    completion's 200 lists the card."""
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "1000000/s")  # load, not a limit test
    make_user("alice")
    token = APIClient().post("/api/auth/token/", {"username": "alice", "password": DEFAULT_PASSWORD}).json()["access"]
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    card = api.post(CONTENTS, {"title": "due today"}).json()["id"]

    with TodayReaders(token) as readers, Promotion(sentinels) as promotion:
        time.sleep(0.5)  # hits from the master
        sentinels.master.kill()
        killed_at = time.monotonic()
        assert api.post("/api/review/complete/", {"content_id": card, "result": "good"}).status_code == 200
        completed_at = time.monotonic()
        while readers.first_hit(started_after=killed_at) is None and time.monotonic() - killed_at < FOLLOW_SECONDS:
            time.sleep(0.05)
        time.sleep(0.5)  # more reads from the new master

    assert readers.errors == [], readers.errors
    assert {read.status for read in readers.reads} == {200}
    assert promotion.role_at is not None and promotion.named_at is not None, "the sentinels promoted no replica"
    promoted_at = min(promotion.role_at, promotion.named_at)
    first_hit = readers.first_hit(started_after=killed_at)
    assert first_hit is not None, f"no HIT within {FOLLOW_SECONDS} s of the kill"
    print(
        f"sentinel: replica master after {promotion.role_at - killed_at:.2f} s, named by a sentinel after "
        f"{promotion.named_at - killed_at:.2f} s, first HIT after {first_hit.ended - killed_at:.2f} s"
    )
    assert first_hit.ended - promoted_at <= HIT_AFTER_PROMOTION, (
        f"first HIT {first_hit.ended - promoted_at:.2f} s after the promotion"
    )
    assert readers.listing(card, started_after=completed_at) == [], "a read after the completion listed the card"
    assert any(card in read.content_ids for read in readers.reads), "the card was listed before"
