"""Fault injection against a real redis-server that each test starts for itself.

Every test runs its own `redis-server` on a free loopback port (no persistence, its own --dir in
tmp_path) and points the cache aliases at it with `override_settings(CACHES=...)`, with the real
redis-py connection class (never fakeredis). So the same tests run, unskipped, in the embedded
mode and against the real servers (REDIS_URL / DATABASE_URL): the shared Redis on 6379 is never
stopped, paused or flushed. Faults:

- stop: the process is terminated (connection refused); start again on the same port: data gone;
- CLIENT PAUSE <ms> ALL: Redis is slow, not down; when the pause ends the data is still there;
- a dead port for the `api` alias only, then back to the same server: the data is still there.

The ground truth of an endpoint is what it answers with the cache switched off.
"""

import random
import secrets
import statistics
import time
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.test import override_settings
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from accounts import authentication
from content.models import Content
from review.models import ReviewHistory
from tests.helpers import BYPASS, ENDPOINTS, HIT, MISS, URLS, cache_off, put_entry, token_of
from tests.servers import RedisServer, caches_at, free_loopback_port, own_redis_server
from utils import redis_layer
from utils.breaker import CLOSED, HALF_OPEN, OPEN
from utils.cache_utils import store
from utils.cache_utils.conf import CONTENT
from utils.cache_utils.invalidation import bump_now, invalidate_pattern
from utils.cache_utils.models import InvalidationDebt

ALL_ALIASES = tuple(settings.CACHES)
API_ONLY = ("api",)

API_TIMEOUT = settings.REDIS_TIMEOUT  # the sockets' connect and read timeout
COOLDOWN = 0.5  # REDIS_BREAKER_COOLDOWN_SECONDS unless a test needs a longer open window
RECOVERY_SECONDS = 5.0  # how long a test polls for the first HIT after Redis is back


# --- The test's own redis-server -----------------------------------------------------------------


@pytest.fixture
def redis_server(tmp_path):
    with own_redis_server(tmp_path / "redis") as server:
        yield server


def pointed_at(server: RedisServer, aliases=ALL_ALIASES, *, cooldown: float = COOLDOWN):
    """Point `aliases` at our server, with a short breaker cool-down (the layer starts afresh)."""
    return override_settings(CACHES=caches_at(server.url, aliases), REDIS_BREAKER_COOLDOWN_SECONDS=cooldown)


@contextmanager
def api_alias_unreachable():
    """Point the `api` alias only at a loopback port nothing listens on."""
    dead = f"redis://127.0.0.1:{free_loopback_port()}"
    with override_settings(CACHES=caches_at(dead, API_ONLY)):
        yield


# --- Requests and observations -------------------------------------------------------------------


def fetch(client, endpoint: str, *, cache: str | None = None):
    response = client.get(URLS[endpoint])
    assert response.status_code == 200, (endpoint, response.status_code, response.content)
    if cache is not None:
        assert response["X-Cache"] == cache, f"{endpoint}: X-Cache {response['X-Cache']}, expected {cache}"
    return response


def timed_fetch(client, endpoint: str, *, cache: str | None = None) -> tuple[float, object]:
    started = time.perf_counter()
    response = fetch(client, endpoint, cache=cache)
    return time.perf_counter() - started, response


def truth(client, endpoint: str) -> dict:
    """What the database says: the endpoint's answer with the cache switched off."""
    with cache_off():
        return fetch(client, endpoint, cache=BYPASS).json()


def titles(payload: dict) -> list[str]:
    return sorted(item["title"] for item in payload["results"])


def warm(client, endpoint: str):
    fetch(client, endpoint, cache=MISS)
    return fetch(client, endpoint, cache=HIT)


def cache_breaker():
    return redis_layer.breaker(redis_layer.CACHE)


def breaker_gauge() -> float | None:
    return REGISTRY.get_sample_value(
        "resee_redis_breaker_open", {"server": redis_layer.route(redis_layer.CACHE).server}
    )


def debts() -> int:
    return InvalidationDebt.objects.count()


def poll_until_hit(client, endpoint: str, check, timeout: float = RECOVERY_SECONDS) -> list[str]:
    """GET until a HIT (bounded in time), running `check(response)` on every answer on the way."""
    deadline, seen = time.monotonic() + timeout, []
    for _ in range(500):
        response = fetch(client, endpoint)
        seen.append(response["X-Cache"])
        check(response)
        if response["X-Cache"] == HIT:
            return seen
        assert time.monotonic() < deadline, f"{endpoint}: no HIT within {timeout} s after recovery: {seen}"
        time.sleep(0.05)
    raise AssertionError(f"{endpoint}: no HIT after {len(seen)} GETs: {seen}")


def sleep_past_cooldown(since: float, cooldown: float = COOLDOWN) -> None:
    time.sleep(max(0.0, since + cooldown + 0.05 - time.monotonic()))


class StateRecorder:
    """Stands in for the cache's client (whatever the settings point it at now) and records the
    breaker state at each command: every Redis round trip of the cache layer (lookups, claims,
    locks, stores, bumps, debt settlement) asks it for a command or a pipeline."""

    def __init__(self):
        self.calls: list[str] = []

    def __getattr__(self, name):
        self.calls.append(cache_breaker().state)
        return getattr(redis_layer.connect(redis_layer.CACHE), name)


@pytest.fixture
def redis_calls(swap_redis):
    recorder = StateRecorder()
    swap_redis(cache=recorder)
    return recorder.calls


# --- Data through the API ------------------------------------------------------------------------


def create_content(client, title: str, **fields) -> int:
    response = client.post("/api/content/", {"title": title, **fields})
    assert response.status_code == 201, response.content
    return response.json()["id"]


def rename(client, content_id: int, title: str) -> None:
    response = client.patch(f"/api/content/{content_id}/", {"title": title})
    assert response.status_code == 200, response.content
    assert response.json()["title"] == title


def complete(client, content_id: int) -> None:
    response = client.post("/api/review/complete/", {"content_id": content_id, "result": "remembered"})
    assert response.status_code == 200, response.content


def seed(client) -> dict[str, int]:
    """Two cards, one already reviewed: every endpoint has something to show."""
    ids = {"hola": create_content(client, "hola"), "pi": create_content(client, "pi")}
    complete(client, ids["pi"])
    return ids


# --- 1. Redis stops mid-run ----------------------------------------------------------------------


def test_when_redis_stops_mid_run_reads_are_bypass_answers_from_the_database(alice, redis_server):
    seed(alice)
    with pointed_at(redis_server):
        for endpoint in ENDPOINTS:
            warm(alice, endpoint)

        redis_server.stop()

        for _ in range(3):
            for endpoint in ENDPOINTS:
                assert fetch(alice, endpoint, cache=BYPASS).json() == truth(alice, endpoint)

        create_content(alice, "written while Redis is down")
        answers = {endpoint: fetch(alice, endpoint, cache=BYPASS).json() for endpoint in ENDPOINTS}
    for endpoint, answer in answers.items():
        assert answer == truth(alice, endpoint), endpoint
    assert "written while Redis is down" in titles(answers["today"])
    assert "written while Redis is down" in titles(answers["content"])
    assert answers["stats"]["total_contents"] == 3


# --- 2. An open breaker means no Redis wait ------------------------------------------------------


def test_once_the_breaker_is_open_a_read_of_a_slow_redis_adds_no_redis_wait(alice, redis_server, redis_calls):
    """Only the `api` alias points at our server: the revocation (0.25 s) and throttle (0.1 s)
    aliases stay where they were, so their timeouts do not blur the measurement. CLIENT PAUSE
    makes Redis slow, not down: each call waits the api SOCKET_TIMEOUT (0.1 s) and fails."""
    seed(alice)
    failures = settings.REDIS_BREAKER_FAILURES
    with pointed_at(redis_server, API_ONLY, cooldown=2.0):
        warm(alice, "today")
        with cache_off():
            timed_fetch(alice, "today", cache=BYPASS)  # warm-up
            baseline = statistics.median(timed_fetch(alice, "today", cache=BYPASS)[0] for _ in range(5))

        redis_server.pause(3000)
        slow = []
        for _ in range(failures):
            assert cache_breaker().state == CLOSED
            slow.append(timed_fetch(alice, "today", cache=BYPASS)[0])
        opened_at = time.monotonic()
        assert cache_breaker().state == OPEN
        # Each request before the breaker opened waited one timeout, no more.
        assert all(seconds >= API_TIMEOUT * 0.9 for seconds in slow), (slow, baseline)
        assert all(seconds - baseline <= API_TIMEOUT + 0.15 for seconds in slow), (slow, baseline)

        redis_calls.clear()
        fast = [timed_fetch(alice, "today", cache=BYPASS)[0] for _ in range(5)]
        still_open = time.monotonic() - opened_at < 2.0
        assert cache_breaker().state == OPEN
        assert redis_calls == [], "an open breaker must not call Redis"
        assert still_open, "the measurement outlived the cool-down; machine too slow"
        assert statistics.median(fast) <= baseline + 0.08, (fast, baseline)
        assert max(fast) < 0.5, (fast, baseline)

        # The pause ends with the data kept: after the cool-down the entry is a HIT again.
        redis_server.wait_until_unpaused()
        sleep_past_cooldown(opened_at, 2.0)
        poll_until_hit(alice, "today", lambda response: None)
        assert cache_breaker().state == CLOSED


# --- 3. Recovery: hits resume, nothing from before an outage write is served ---------------------


def test_after_a_restart_that_lost_the_data_hits_resume_with_what_was_written_during_the_outage(alice, redis_server):
    seed(alice)
    with pointed_at(redis_server):
        for endpoint in ENDPOINTS:
            warm(alice, endpoint)
        redis_server.stop()
        create_content(alice, "written while Redis is down")
        fetch(alice, "content", cache=BYPASS)

        redis_server.start()  # same port, empty

        for endpoint in ENDPOINTS:
            expected = truth(alice, endpoint)

            def same_as_database(response, expected=expected, endpoint=endpoint):
                assert response.json() == expected, (endpoint, response["X-Cache"])

            poll_until_hit(alice, endpoint, same_as_database)
        assert debts() == 0
        assert cache_breaker().state == CLOSED
        assert "written while Redis is down" in titles(fetch(alice, "content", cache=HIT).json())


def _never_old(response):
    assert titles(response.json()) == ["new", "pi"], (response["X-Cache"], response.json())


def test_a_rename_whose_bump_hit_a_dead_port_is_settled_before_the_kept_old_entry_can_be_a_hit(alice, redis_server):
    """The entry holding "old" survives the outage (same server, data kept); the bump of the
    rename never reached it: a debt row stands for it and must be paid before any HIT."""
    content_id = create_content(alice, "old")
    create_content(alice, "pi")
    with pointed_at(redis_server):
        assert titles(warm(alice, "content").json()) == ["old", "pi"]

        with api_alias_unreachable():
            rename(alice, content_id, "new")
            assert debts() == 1
            assert not redis_layer.healthy(redis_layer.CACHE)
            _never_old(fetch(alice, "content", cache=BYPASS))

        assert redis_server.entries_holding('"old"', db=settings.REDIS_DB_CACHE), "the old entry is still there"
        seen = poll_until_hit(alice, "content", _never_old)
        assert debts() == 0
        assert seen[-1] == HIT and MISS in seen, seen
        _never_old(fetch(alice, "content", cache=HIT))


def test_a_rename_during_a_client_pause_is_settled_before_the_kept_old_entry_can_be_a_hit(alice, redis_server):
    """CLIENT PAUSE: the bump times out (the paused server drops the command of the client that
    gave up), the entry holding "old" is still there when the pause ends. Only the `api` alias
    points at our server (the other aliases' timeouts would only slow the test down)."""
    content_id = create_content(alice, "old")
    create_content(alice, "pi")
    with pointed_at(redis_server, API_ONLY):
        assert titles(warm(alice, "content").json()) == ["old", "pi"]

        redis_server.pause(1500)
        rename(alice, content_id, "new")
        assert debts() == 1
        _never_old(fetch(alice, "content", cache=BYPASS))
        redis_server.wait_until_unpaused()

        assert redis_server.entries_holding('"old"', db=settings.REDIS_DB_CACHE), "the old entry is still there"
        poll_until_hit(alice, "content", _never_old)
        assert debts() == 0
        assert cache_breaker().state == CLOSED


# --- 4. The breaker ------------------------------------------------------------------------------


def _open_the_breaker(client, failures: int) -> float:
    """`failures` failing reads: the breaker stays closed until the last one opens it."""
    for attempt in range(1, failures + 1):
        fetch(client, "today", cache=BYPASS)
        expected = OPEN if attempt == failures else CLOSED
        assert cache_breaker().state == expected, attempt
        assert breaker_gauge() == (1.0 if expected == OPEN else 0.0), attempt
    return time.monotonic()


def test_the_breaker_opens_after_consecutive_failures_and_a_probe_closes_it_when_the_pause_ends(
    alice, redis_server, redis_calls
):
    seed(alice)
    with pointed_at(redis_server, API_ONLY):
        warm(alice, "today")
        redis_server.pause(1200)
        opened_at = _open_the_breaker(alice, settings.REDIS_BREAKER_FAILURES)

        redis_calls.clear()
        fetch(alice, "today", cache=BYPASS)  # within the cool-down: Redis is not asked
        assert redis_calls == [] and cache_breaker().state == OPEN

        redis_server.wait_until_unpaused()
        sleep_past_cooldown(opened_at)
        fetch(alice, "today", cache=HIT)  # the probe: the entry was kept
        assert redis_calls and redis_calls[0] == HALF_OPEN
        assert cache_breaker().state == CLOSED
        assert breaker_gauge() == 0.0


def test_the_breaker_opens_after_consecutive_failures_and_a_probe_closes_it_after_a_restart(
    alice, redis_server, redis_calls
):
    """Redis restarted empty: the probe is a lookup that misses. APP BUG: the gauge stays at 1."""
    seed(alice)
    with pointed_at(redis_server):
        warm(alice, "today")
        redis_server.stop()
        opened_at = _open_the_breaker(alice, settings.REDIS_BREAKER_FAILURES)

        # A probe while Redis is still down opens it again, for another cool-down.
        sleep_past_cooldown(opened_at)
        fetch(alice, "today", cache=BYPASS)
        reopened_at = time.monotonic()
        assert cache_breaker().state == OPEN and breaker_gauge() == 1.0

        redis_server.start()
        sleep_past_cooldown(reopened_at)
        redis_calls.clear()
        fetch(alice, "today", cache=MISS)  # the probe: Redis answers, the data is gone
        assert redis_calls and redis_calls[0] == HALF_OPEN
        assert cache_breaker().state == CLOSED
        fetch(alice, "today", cache=HIT)
        assert breaker_gauge() == 0.0, "resee_redis_breaker_open still says open while the breaker is closed"


def test_a_write_while_the_breaker_is_open_costs_the_next_reads_no_redis_wait(alice, redis_server, redis_calls):
    """A bump lost while the breaker is open is an invalidation debt, and the cache's recovery is
    due (redis_layer.require_recovery): the reads within the cool-down wait on nothing and serve
    the write from the database; the first call after it pays the debt before any entry is used.
    Only the `api` alias points at our server (see the timing test). No Redis call is the proof of
    no Redis wait: the time a read takes is the timing test's to measure (over a median), not each
    read's here."""
    ids = seed(alice)
    with pointed_at(redis_server, API_ONLY, cooldown=5.0):
        warm(alice, "today")
        redis_server.pause(2500)
        opened_at = _open_the_breaker(alice, settings.REDIS_BREAKER_FAILURES)

        redis_calls.clear()
        rename(alice, ids["hola"], "renamed while Redis is slow")
        assert debts() == 1
        assert redis_calls == [], "the bump of an open breaker must not call Redis"

        for _ in range(2):
            response = fetch(alice, "today", cache=BYPASS)
            assert "renamed while Redis is slow" in titles(response.json())
        assert time.monotonic() - opened_at < 5.0, "machine too slow for this test"
        assert redis_calls == [], f"a read within the cool-down called Redis: {redis_calls}"
        assert cache_breaker().state == OPEN
        assert debts() == 1

        redis_server.wait_until_unpaused()
        sleep_past_cooldown(opened_at, 5.0)

        def renamed(response):
            assert "renamed while Redis is slow" in titles(response.json()), response["X-Cache"]

        poll_until_hit(alice, "today", renamed)
        assert debts() == 0


def test_a_write_whose_circuit_is_still_open_when_redis_is_back_sends_its_bump_before_answering(alice, redis_server):
    """This process's circuit opened during a pause and still cools down when the pause ends (its
    probe thread asks only every REDIS_BREAKER_PROBE_SECONDS), the entry holding "old" still on
    the server. Another process whose circuit never opened, or closed sooner, serves hits from it:
    a rename's bump owed until this process's probe would leave them that entry after the 2xx.
    The write asks Redis itself: the bump is on the server before the answer, and nothing is owed."""
    content_id = create_content(alice, "old")
    create_content(alice, "pi")
    with (
        pointed_at(redis_server, API_ONLY, cooldown=30.0),
        override_settings(REDIS_BREAKER_PROBE_SECONDS=30.0),
    ):
        assert titles(warm(alice, "content").json()) == ["old", "pi"]
        token = token_of(alice.user.id, CONTENT)
        redis_server.pause(800)
        _open_the_breaker(alice, settings.REDIS_BREAKER_FAILURES)
        redis_server.wait_until_unpaused()
        assert cache_breaker().state == OPEN

        rename(alice, content_id, "new")
        assert token_of(alice.user.id, CONTENT) not in (token, None), "the bump did not reach Redis"
        assert debts() == 0
        assert cache_breaker().state == CLOSED
        assert titles(fetch(alice, "content", cache=MISS).json()) == ["new", "pi"]


def test_a_write_while_redis_stays_paused_waits_one_timeout_for_its_sign_of_life_then_owes(alice, redis_server):
    """The other side of the write's own probe: Redis does not answer within REDIS_TIMEOUT, the
    bump is a debt, and the write waited that one PING, not the breaker's failures again."""
    content_id = create_content(alice, "old")
    with pointed_at(redis_server, API_ONLY, cooldown=30.0):
        warm(alice, "content")
        redis_server.pause(3000)
        _open_the_breaker(alice, settings.REDIS_BREAKER_FAILURES)
        started = time.monotonic()
        rename(alice, content_id, "new")
        waited = time.monotonic() - started
        assert debts() == 1 and cache_breaker().state == OPEN
        assert waited >= API_TIMEOUT, f"the write did not ask Redis ({waited:.3f} s)"
        redis_server.wait_until_unpaused()


@pytest.mark.parametrize("state_during_the_read", [CLOSED, HALF_OPEN])
def test_a_bump_lost_while_a_read_is_in_flight_is_settled_before_a_hit(
    alice, redis_server, monkeypatch, swap_redis, state_during_the_read
):
    """A lost bump writes a debt and makes the cache's recovery due; a Redis call admitted before it that succeeds
    afterwards (and closes the breaker) must not forgive it: the next read pays it first, and the
    pre-write entry is never a HIT.

    Simulated in one thread: while a GET's lookup is in flight, another request's write commits
    and its bump is lost, either to a Redis error (breaker closed) or refused because the GET is
    the half-open probe (breaker half-open: no Redis error at all). Only the `api` alias points
    at our server, so the lookup, not the revocation check, is the probe of its breaker."""
    content_id = create_content(alice, "old")
    create_content(alice, "pi")
    with pointed_at(redis_server, API_ONLY):
        warm(alice, "content")
        states = []

        def the_other_requests_write():
            states.append(cache_breaker().state)
            Content.objects.filter(pk=content_id).update(title="new")
            with monkeypatch.context() as patch:
                if state_during_the_read == CLOSED:
                    patch.setattr(store, "bump", _failing_bump)
                bump_now(user_id=alice.user.id, namespaces=["content", "stats", "today"], reasons={"test"})

        swap_redis(cache=LookupRacing(the_other_requests_write))
        if state_during_the_read == HALF_OPEN:
            # Redis was away: the breaker opened, and its cool-down is over: the next call probes.
            for _ in range(settings.REDIS_BREAKER_FAILURES):
                cache_breaker().record_failure()
            sleep_past_cooldown(time.monotonic())
        fetch(alice, "content")  # concurrent with the write: may show either title
        assert states == [state_during_the_read]

        _never_old(fetch(alice, "content"))
        assert debts() == 0


class LookupRacing:
    """Stands in for the cache's client, and runs `race` while the first lookup (an MGET) is in
    flight: after it was asked for, before Redis answers."""

    def __init__(self, race):
        self.race, self.raced = race, False

    def pipeline(self, *args, **kwargs):
        pipe = redis_layer.connect(redis_layer.CACHE).pipeline(*args, **kwargs)
        execute = pipe.execute

        def racing_execute(*a, **k):
            if not self.raced and any(command[0] == "MGET" for command, _ in pipe.command_stack):
                self.raced = True
                self.race()
            return execute(*a, **k)

        pipe.execute = racing_execute
        return pipe

    def __getattr__(self, name):
        return getattr(redis_layer.connect(redis_layer.CACHE), name)


def _failing_bump(**kwargs):
    raise RedisConnectionError("Error 111 connecting to 127.0.0.1. Connection refused.")


# --- 5. Writes during an outage ------------------------------------------------------------------


def test_writes_commit_while_redis_is_down_and_are_served_after_recovery(alice, redis_server):
    ids = seed(alice)
    with pointed_at(redis_server):
        for endpoint in ENDPOINTS:
            warm(alice, endpoint)
        redis_server.stop()

        created = create_content(alice, "created while down")
        rename(alice, ids["hola"], "renamed while down")
        complete(alice, created)
        response = alice.delete(f"/api/content/{ids['pi']}/")
        assert response.status_code == 204, response.content
        category = alice.post("/api/content/categories/", {"name": "Outage"})
        assert category.status_code == 201, category.content
        assert debts() >= 1

        assert sorted(Content.objects.filter(owner_id=alice.user.id).values_list("title", flat=True)) == [
            "created while down",
            "renamed while down",
        ]
        assert ReviewHistory.objects.filter(user_id=alice.user.id, content_id=created).count() == 1

        redis_server.start()
        expected = {endpoint: truth(alice, endpoint) for endpoint in ENDPOINTS}
        assert titles(expected["content"]) == ["created while down", "renamed while down"]
        assert expected["stats"]["total_contents"] == 2
        for endpoint in ENDPOINTS:

            def same_as_database(response, endpoint=endpoint):
                assert response.json() == expected[endpoint], (endpoint, response["X-Cache"])

            poll_until_hit(alice, endpoint, same_as_database)
        assert debts() == 0


# --- 6. Memory pressure --------------------------------------------------------------------------


def deployed_eviction_policy() -> str:
    lines = (settings.BASE_DIR / "redis.conf").read_text().splitlines()
    return next(line.split()[1] for line in lines if line.startswith("maxmemory-policy "))


def test_under_maxmemory_pressure_entries_are_evicted_but_never_stale_foreign_or_unrevoked(make_client, tmp_path):
    """A server far too small for the working set, with the deployed eviction policy: entries,
    namespace tokens and revocation hashes are evicted, and every answer is still the
    requester's own, as the database has it now. Dave logs out, then idles while the others
    churn, so his keys are the coldest: his logged-out token must stay out, his data current."""
    policy = deployed_eviction_policy()
    with own_redis_server(tmp_path / "tiny", "--maxmemory", "2mb", "--maxmemory-policy", policy) as server:
        with pointed_at(server):
            dave = make_client("dave")
            dave_card = create_content(dave, "dave card")
            logged_out = dave.login("dave")["access"]
            assert dave.post("/api/auth/logout/").status_code == 204
            dave.login("dave")
            assert_own_and_current(dave, {})

            users = [make_client(name) for name in ("alice", "bob", "carol")]
            # Random bodies defeat compression: a full page is ~60 kB; the server holds ~20 such.
            cards = {
                client.user.id: [
                    create_content(client, f"{client.user.username} card {n}", body=secrets.token_urlsafe(1500))
                    for n in range(40)
                ]
                for client in users
            }
            # Each round reads a few searches only, so entries written before a rename outlive it.
            pick = random.Random(7)
            for round_ in range(10):
                for client in users:
                    rename(client, cards[client.user.id][round_], f"{client.user.username} renamed {round_}")
                    for search in pick.sample("0123456789abcdef", 5):
                        assert_own_and_current(client, {"search": search, "page_size": 100})
                    for endpoint in ("today", "stats"):
                        assert fetch(client, endpoint).json() == truth(client, endpoint)
            with server.admin() as admin:
                evicted = admin.info("stats")["evicted_keys"]
            with server.admin(db=settings.REDIS_DB_REVOCATION) as admin:
                assert not admin.exists(authentication._hash_key(dave.user.id)), "the premise: dave's hash was evicted"

            rename(dave, dave_card, "dave renamed")
            assert_own_and_current(dave, {})
            dave.credentials(HTTP_AUTHORIZATION=f"Bearer {logged_out}")
            assert dave.get(URLS["content"]).status_code == 401
    assert evicted > 100, f"only {evicted} evictions: the test did not press on memory"


def assert_own_and_current(client, params: dict) -> None:
    answer = client.get(URLS["content"], params)
    assert answer.status_code == 200, answer.content
    with cache_off():
        expected = client.get(URLS["content"], params).json()
    assert answer.json() == expected, (client.user.username, params, answer["X-Cache"])
    assert {row["title"].split()[0] for row in answer.json()["results"]} <= {client.user.username}


def test_an_invalidation_by_pattern_waits_out_a_pause_longer_than_a_requests_timeout(alice, redis_server):
    """An operator's SCAN + UNLINK meets a busy server: it slows down instead of failing halfway."""
    with pointed_at(redis_server, API_ONLY):
        for page in range(3):
            put_entry(alice.user.pk, params={"page": page})
        pattern = f"{store.user_tag(alice.user.pk)}:*"
        cached = redis_server.entries_holding("", db=settings.REDIS_DB_CACHE)
        redis_server.pause(int(API_TIMEOUT * 1000 * 4))
        started = time.monotonic()
        assert invalidate_pattern(pattern) == len(cached) == 4  # three entries and their namespace token
        assert time.monotonic() - started > API_TIMEOUT * 2  # it did wait for the pause
        assert redis_server.entries_holding("", db=settings.REDIS_DB_CACHE) == []
