"""The stale-set race, really raced: threads against the real Redis and PostgreSQL.

Readers that miss compute from the database and store; a writer commits new titles. A hook
sleeps between a reader's compute and its store, so a reader that read pre-commit rows often
stores after the writer's invalidation. No request that starts after a write returned may
see the data from before it."""

import random
import threading
import time

import pytest
from django.db import connection, transaction
from rest_framework.test import APIClient

from content.models import Content
from content.services import content_create, content_update
from tests.helpers import before_store

# Every test here runs on each Redis topology (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("redis_topology")

WRITES = 25
READERS = 3
DEADLINE_SECONDS = 30


def title_version(response) -> int:
    assert response.status_code == 200, response.content
    return int(response.json()["results"][0]["title"].removeprefix("v"))


@pytest.fixture
def slow_store(swap_redis):
    rng = random.Random(7)
    return before_store(swap_redis, lambda: time.sleep(rng.uniform(0, 0.01)))


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_no_reader_that_starts_after_a_write_sees_data_from_before_it(make_user, slow_store):
    user = make_user("alice")
    content = content_create(owner_id=user.id, title="v0")
    access = APIClient().post("/api/auth/token/", {"username": "alice", "password": "correct-horse-battery-9"})
    token = access.json()["access"]

    committed = 0  # the last version whose write has returned
    done = threading.Event()
    violations, reads, errors = [], [], []
    deadline = time.monotonic() + DEADLINE_SECONDS

    def writer():
        nonlocal committed
        try:
            for version in range(1, WRITES + 1):
                with transaction.atomic():
                    content_update(content=Content.objects.select_for_update().get(pk=content.pk), title=f"v{version}")
                    # More work before the commit: widens the window in which an invalidation
                    # sent too early would let readers refill the cache from pre-commit rows.
                    time.sleep(0.005)
                committed = version  # the commit and its on-commit invalidation have run
                time.sleep(random.uniform(0, 0.004))
        except Exception as exc:  # surfaced by the main thread
            errors.append(exc)
        finally:
            done.set()
            connection.close()

    def reader():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            while not done.is_set() and time.monotonic() < deadline:
                floor = committed
                seen = title_version(client.get("/api/content/"))
                reads.append(seen)
                if seen < floor:
                    violations.append((floor, seen))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(READERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEADLINE_SECONDS + 5)

    assert not errors, errors
    assert done.is_set(), "the writer did not finish in time"
    assert len(reads) > WRITES, "the readers did not overlap the writes enough to mean anything"
    assert violations == []
    assert slow_store.calls > 0, "no store was slowed: the race window was never widened"
    final = APIClient()
    final.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert title_version(final.get("/api/content/")) == WRITES
