"""Imports through real Celery workers started by the tests (RabbitMQ, Redis, PostgreSQL): the
jobs the API queues run in another process, progress crosses through Redis, and a worker killed
mid-import leaves a job that the next worker finishes, with every card there exactly once."""

import time

import pytest
from django.conf import settings

from content.models import Content
from decks.models import ImportJob
from review.models import ReviewSchedule
from tests.helpers import anki_package, fetch, start_import, titles, uncached, wait_for_job, warm
from tests.servers import CeleryWorker, app_env, delete_queue, require_rabbitmq

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_env():
    require_rabbitmq()
    assert not settings.JOBS_IN_PROCESS  # a real Redis: jobs go to the broker
    yield app_env()
    delete_queue(settings.CELERY_TASK_DEFAULT_QUEUE)


def big_deck(tmp_path, count: int) -> bytes:
    return anki_package(tmp_path, {"Big": [(f"front {n}", f"back {n}") for n in range(count)]})


def test_a_csv_and_an_anki_package_are_imported_by_a_worker_and_show_at_once(alice, worker_env, tmp_path):
    warm(alice, "content")
    warm(alice, "today")
    package = anki_package(tmp_path, {"Spanish": [("ser", "to be")], "Maths": [("pi", "3.14")]}, media=3)
    with CeleryWorker(tmp_path, worker_env):
        from_csv = wait_for_job(alice, start_import(alice, "front,back\nhola,hello\n")["id"])
        from_anki = wait_for_job(alice, start_import(alice, package, "deck.apkg")["id"])

    assert (from_csv["state"], from_csv["created"]) == ("succeeded", 1)
    assert (from_anki["state"], from_anki["created"], from_anki["media"]) == ("succeeded", 2, 3)
    assert sorted(titles(fetch(alice, "content"))) == ["hola", "pi", "ser"]
    assert fetch(alice, "today").json() == uncached(alice, "today").json()
    assert fetch(alice, "today").json()["count"] == 3


def test_the_progress_of_a_deck_of_thousands_is_seen_part_way(alice, worker_env, tmp_path):
    package = big_deck(tmp_path, 3000)
    seen: list[tuple[str, int, int]] = []
    with CeleryWorker(tmp_path, worker_env):
        job = start_import(alice, package, "big.apkg")
        final = wait_for_job(alice, job["id"], states=seen)

    assert (final["state"], final["created"], final["processed"]) == ("succeeded", 3000, 3000)
    assert seen[0][0] in ("queued", "running")
    assert [entry for entry in seen if entry[0] == "running" and 0 < entry[1] < entry[2] == 3000]


def test_a_worker_killed_mid_import_leaves_exactly_what_the_job_says_and_the_next_worker_finishes(
    alice, worker_env, tmp_path
):
    package = big_deck(tmp_path, 6000)
    with CeleryWorker(tmp_path, worker_env) as first:
        job = start_import(alice, package, "big.apkg")
        deadline, progress = time.monotonic() + 60, {"state": "queued", "processed": 0}
        while not (progress["state"] == "running" and progress["processed"] > 0):
            assert time.monotonic() < deadline, f"the import did not start: {progress}"
            progress = alice.get(f"/api/imports/{job['id']}/").json()
            assert progress["state"] != "succeeded", "the import finished before the worker could be killed"
        first.kill()

    row = ImportJob.objects.get(pk=job["id"])
    assert row.state == "running" and 0 < row.created < 6000
    assert Content.objects.filter(owner=alice.user).count() == row.created  # exactly what it says

    with CeleryWorker(tmp_path, worker_env):
        final = wait_for_job(alice, job["id"])

    assert (final["state"], final["created"], final["processed"]) == ("succeeded", 6000, 6000)
    assert Content.objects.filter(owner=alice.user).count() == 6000
    assert ReviewSchedule.objects.filter(owner=alice.user).count() == 6000
    assert ImportJob.objects.get(pk=job["id"]).attempts == 2


def test_reimporting_through_the_worker_creates_nothing(alice, worker_env, tmp_path):
    package = anki_package(tmp_path, {"Spanish": [("ser", "to be"), ("estar", "to be")]})
    with CeleryWorker(tmp_path, worker_env):
        first = wait_for_job(alice, start_import(alice, package, "deck.apkg")["id"])
        second = wait_for_job(alice, start_import(alice, package, "deck.apkg")["id"])
    assert (first["created"], second["created"], second["skipped"]) == (2, 0, 2)
