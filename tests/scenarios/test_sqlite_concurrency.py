"""The embedded default under concurrency: SQLite in a file, writers from many threads at once.

The server is a subprocess of this test with a database file of its own, served as `make run`
serves it (runserver, the embedded fakeredis) and as the benchmark does (gunicorn, 2 workers, a
redis-server of the test's own). 8 clients, one demo user each, run 10 rounds of {read today,
complete its first due card, rename that card}, all at once. SQLite has one writer at a time: every write
must wait its turn, none may fail, and the file must hold exactly what the answers said.
"""

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings

from review.management.commands.seed_demo import DEMO_PASSWORD
from tests.servers import GunicornServer, RedisServer, RunServer, app_env

CLIENTS, ROUNDS = 8, 10


@pytest.fixture
def sqlite_env(tmp_path):
    """The environment of the app on a seeded SQLite file of this test's; REDIS_URL unset."""
    env = app_env(DEBUG="1", DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}", THROTTLE_USER_RATE="100000/min")
    env.pop("REDIS_URL", None)
    for command in (["migrate", "--noinput"], ["seed_demo", "--users", str(CLIENTS), "--contents", "30"]):
        subprocess.run(
            [sys.executable, "manage.py", *command], cwd=settings.BASE_DIR, env=env, check=True, capture_output=True
        )
    return env


def test_runserver_on_sqlite_commits_every_concurrent_write(sqlite_env, tmp_path):
    with RunServer(tmp_path, sqlite_env) as server:
        assert_every_write_commits(server, tmp_path / "db.sqlite3")


def test_gunicorn_on_sqlite_commits_every_concurrent_write(sqlite_env, tmp_path):
    redis_server = RedisServer(tmp_path / "redis")
    redis_server.start()
    try:
        with GunicornServer(tmp_path, {**sqlite_env, "REDIS_URL": redis_server.url}, workers=2) as server:
            assert_every_write_commits(server, tmp_path / "db.sqlite3")
    finally:
        redis_server.stop()


def assert_every_write_commits(server, database) -> None:
    before = history_per_card(database)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        clients = list(pool.map(lambda n: Client(server, f"bench-{n:05d}"), range(1, CLIENTS + 1)))
        for done in [pool.submit(client.run) for client in clients]:
            done.result()
    answers = [status for client in clients for status in client.statuses]
    assert all(200 <= status < 300 for status in answers), Counter(answers)
    assert len(answers) == CLIENTS * ROUNDS * 3

    completed = Counter(card for client in clients for card in client.completed)
    after = history_per_card(database)
    assert {card: after[card] - before.get(card, 0) for card in after if after[card] != before.get(card)} == completed
    schedules, titles = rows(database)
    for client in clients:
        assert {card: schedules[card] for card in client.schedules} == client.schedules
        assert {card: titles[card] for card in client.titles} == client.titles


class Client:
    """One user's browser tab: logs in, then rounds of read, complete, rename; it keeps every
    status, and the last schedule and title each 2xx answer gave per card."""

    def __init__(self, server, username: str):
        self.server, self.username = server, username
        status, _, body = server.request(
            "POST", "/api/auth/token/", body=json.dumps({"username": username, "password": DEMO_PASSWORD})
        )
        assert status == 200, body
        self.token = json.loads(body)["access"]
        self.statuses, self.completed = [], []
        self.schedules, self.titles = {}, {}

    def call(self, method: str, path: str, payload: dict | None = None):
        status, _, body = self.server.request(
            method, path, token=self.token, body=None if payload is None else json.dumps(payload)
        )
        self.statuses.append(status)
        return status, json.loads(body) if body else None

    def run(self) -> None:
        for round_ in range(ROUNDS):
            status, today = self.call("GET", "/api/review/today/")
            if status != 200 or not today["results"]:
                continue
            card = today["results"][0]["content_id"]
            # A completed card is due a day later at the soonest: seeing it again is a stale read.
            assert card not in self.completed, f"{self.username} got a stale today list"
            status, schedule = self.call("POST", "/api/review/complete/", {"content_id": card, "result": "remembered"})
            if status == 200:
                self.completed.append(card)
                self.schedules[card] = (schedule["interval_step"], schedule["next_review_date"])
            title = f"{self.username} round {round_}"
            status, _ = self.call("PATCH", f"/api/content/{card}/", {"title": title})
            if status == 200:
                self.titles[card] = title


def history_per_card(database) -> Counter:
    with sqlite3.connect(database) as conn:
        return Counter(dict(conn.execute("SELECT content_id, COUNT(*) FROM review_reviewhistory GROUP BY content_id")))


def rows(database) -> tuple[dict, dict]:
    with sqlite3.connect(database) as conn:
        schedules = {
            card: (step, due)
            for card, step, due in conn.execute(
                "SELECT content_id, interval_step, next_review_date FROM review_reviewschedule"
            )
        }
        titles = dict(conn.execute("SELECT id, title FROM content_content"))
    return schedules, titles
