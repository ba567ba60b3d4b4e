"""Faults under the API as deployed: gunicorn with two workers (deploy/gunicorn.conf.py) on a
free loopback port, in front of a redis-server this test starts and kills, or of a cable to
PostgreSQL this test cuts (the shared servers are never touched). Load is a fixed number of
requests from a few threads; every wait is bounded.

The ground truth of a read is what the database says: the same endpoint asked in-process with
the cache switched off.
"""

import json
import threading
import time

import pytest
from django.db import connection

from content.models import Content
from review.models import ReviewHistory
from tests.helpers import cache_off
from tests.servers import GunicornServer, RedisServer, TcpProxy, app_env

READS = ("/api/review/today/", "/api/analytics/stats/", "/api/content/?page_size=100")
LOAD_THREADS = 4
LOAD_ROUNDS = 25  # per thread; each round is the three reads, one create and one completion
RECOVERY_SECONDS = 15.0  # REDIS_BREAKER_COOLDOWN_SECONDS (5 s) and then some
GENEROUS_RATES = {"THROTTLE_USER_RATE": "100000/min", "THROTTLE_ANON_RATE": "100000/min"}

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def truth(client, path: str) -> dict:
    with cache_off():
        response = client.get(path)
    assert response.status_code == 200, response.content
    return response.json()


def get_json(server: GunicornServer, path: str, token: str) -> tuple[int, dict, dict]:
    status, headers, body = server.request("GET", path, token=token)
    # Pagination links are absolute: read them as the in-process ground truth writes them.
    return status, headers, json.loads(body.replace(f"//127.0.0.1:{server.port}/".encode(), b"//testserver/"))


def post_json(server: GunicornServer, path: str, token: str, payload: dict) -> tuple[int, dict]:
    status, _, body = server.request("POST", path, token=token, body=json.dumps(payload))
    return status, json.loads(body)


def poll(until, timeout: float = RECOVERY_SECONDS, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        result = until()
        if result:
            return result
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"
        time.sleep(0.1)


@pytest.fixture
def redis_server(tmp_path):
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


# --- Redis killed under load ---------------------------------------------------------------------


class Load:
    """LOAD_THREADS threads, each doing LOAD_ROUNDS rounds; `done` counts finished requests."""

    def __init__(self, server: GunicornServer, token: str, card_id: int):
        self.server, self.token, self.card_id = server, token, card_id
        self.reads: list[tuple[int, str]] = []  # (status, X-Cache)
        self.creates: list[tuple[int, int | None]] = []  # (status, id)
        self.completions: list[int] = []
        self.done = 0
        self._lock = threading.Lock()
        self.total = LOAD_THREADS * LOAD_ROUNDS * (len(READS) + 2)
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(LOAD_THREADS)]

    def _run(self, thread: int) -> None:
        for round_ in range(LOAD_ROUNDS):
            for path in READS:
                status, headers, _ = self.server.request("GET", path, token=self.token)
                self._record(self.reads, (status, headers.get("X-Cache", "")))
            status, body = post_json(self.server, "/api/content/", self.token, {"title": f"load {thread}-{round_}"})
            self._record(self.creates, (status, body.get("id")))
            status, _ = post_json(
                self.server, "/api/review/complete/", self.token, {"content_id": self.card_id, "result": "remembered"}
            )
            self._record(self.completions, status)

    def _record(self, where: list, what) -> None:
        with self._lock:
            where.append(what)
            self.done += 1

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def wait_for(self, share: float) -> None:
        poll(lambda: self.done >= share * self.total, timeout=60, what=f"{share:.0%} of the load")

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in self.threads), "the load did not finish"


def test_redis_killed_under_load_then_back_empty_loses_nothing_and_serves_the_truth(
    make_client, redis_server, tmp_path
):
    alice = make_client("alice")
    card = alice.post("/api/content/", {"title": "the card under review"}).json()["id"]
    token = alice.tokens["access"]
    with GunicornServer(tmp_path, app_env(REDIS_URL=redis_server.url, **GENEROUS_RATES)) as server:
        load = Load(server, token, card)
        load.start()
        load.wait_for(1 / 3)
        redis_server.kill()
        load.wait_for(2 / 3)
        redis_server.start()  # same port, nothing kept
        load.join()

        expected = {path: truth(alice, path) for path in READS}
        for path in READS:
            status, headers, body = poll(
                lambda path=path: (answer := get_json(server, path, token))[1].get("X-Cache") == "HIT" and answer,
                what=f"a HIT on {path} after the restart",
            )
            assert body == expected[path], path

    assert sorted({status for status, _ in load.reads}) == [200], "a read failed"
    assert {"HIT", "BYPASS"} <= {cache for _, cache in load.reads}, "the kill did not land during the load"
    assert [status for status, _ in load.creates] == [201] * LOAD_THREADS * LOAD_ROUNDS
    assert load.completions == [200] * LOAD_THREADS * LOAD_ROUNDS
    created = {content_id for _, content_id in load.creates}
    assert set(Content.objects.filter(owner=alice.user, title__startswith="load ").values_list("id", flat=True)) == (
        created
    )
    assert ReviewHistory.objects.filter(user=alice.user, content_id=card).count() == len(load.completions)
    assert expected["/api/analytics/stats/"]["total_contents"] == 1 + len(created)


# --- PostgreSQL unreachable ----------------------------------------------------------------------


def test_postgres_unreachable_is_a_clear_503_and_the_api_recovers_without_a_restart(make_client, tmp_path):
    alice = make_client("alice")
    alice.post("/api/content/", {"title": "before the cut"})
    token = alice.tokens["access"]
    db = connection.settings_dict
    with TcpProxy(db["HOST"], int(db["PORT"])) as cable:
        env = app_env(DATABASE_URL=f"postgres://{db['USER']}@127.0.0.1:{cable.port}/{db['NAME']}", **GENEROUS_RATES)
        with GunicornServer(tmp_path, env) as server:
            cached = "/api/content/"
            # Note: a worker's first cache call pays any invalidation debts, which needs the database.
            assert set(server.on_every_worker("GET", cached, token=token)) == {200}
            status, headers, before = get_json(server, cached, token)
            assert (status, headers["X-Cache"]) == (200, "HIT")

            cable.cut()

            status, headers, body = get_json(server, "/api/health/", token)
            assert (status, body) == (503, {"status": "unavailable", "database": "unavailable", "cache": "ok"})
            # Note: a search has an entry of its own, which no write refreshes: a miss, so the database.
            status, headers, body = get_json(server, "/api/content/?search=cut", token)
            assert status == 503
            assert body == {"detail": "The database is unavailable; please retry shortly."}
            assert headers["Retry-After"] == "5"
            status, body = post_json(server, "/api/content/", token, {"title": "during the cut"})
            assert (status, body["detail"]) == (503, "The database is unavailable; please retry shortly.")
            # A hit needs no database: stateless tokens, revocation and throttle in Redis.
            status, headers, body = get_json(server, cached, token)
            assert (status, headers["X-Cache"], body) == (200, "HIT", before)

            cable.mend()

            poll(lambda: server.request("GET", "/api/health/")[0] == 200, what="health 200 after the mend")
            status, body = post_json(server, "/api/content/", token, {"title": "after the mend"})
            assert status == 201, body
            status, _, body = get_json(server, cached, token)
            assert status == 200
            assert body == truth(alice, cached)
            boots = server.log_tail(lines=10_000).count("Booting worker")
    assert boots == 2, "a worker was replaced: recovery must not need a restart"
    assert list(Content.objects.filter(owner=alice.user).order_by("id").values_list("title", flat=True)) == [
        "before the cut",
        "after the mend",
    ]
