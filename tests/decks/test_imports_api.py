"""POST /api/imports/ and GET /api/imports/{id}/ with jobs in a thread of this process (the
embedded default of `make run`); the Celery worker's own tests are in test_worker.py. The job's
thread has its own database connection, so these tests commit (transactional_db)."""

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import override_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.selectors import learner_day
from content.models import Category, Content
from decks.models import ImportJob
from review.models import ReviewSchedule
from tests.helpers import (
    ANKI_CREATED,
    IMPORTS,
    AnkiCard,
    AnkiReview,
    anki2_package,
    anki_package,
    assert_fresh,
    fetch,
    set_learner,
    start_import,
    titles,
    uncached,
    upload,
    wait_for_job,
    warm,
    zipped,
)
from tests.servers import DownRedis, free_loopback_port
from utils import clock, redis_layer

pytestmark = pytest.mark.django_db(transaction=True)

CSV = "front,back,category\nser,to be,Spanish\nestar,to be (state),Spanish\npi,3.14159,\n"


@pytest.fixture(autouse=True)
def jobs_here():
    with override_settings(JOBS_IN_PROCESS=True):
        yield


def imported(client, content, name="deck.csv", **wait) -> dict:
    job = start_import(client, content, name)
    return wait_for_job(client, job["id"], **wait)


def test_a_csv_import_answers_202_and_its_cards_show_at_once_in_the_cached_lists(alice):
    warm(alice, "content")
    warm(alice, "today")

    response = alice.post(IMPORTS, {"file": io.BytesIO(CSV.encode())}, format="multipart")
    assert response.status_code == 202, response.content
    job = response.json()
    assert set(job) == {"id", "status_url"} and job["status_url"].endswith(f"{IMPORTS}{job['id']}/")
    progress = wait_for_job(alice, job["id"])

    assert progress["state"] == "succeeded", progress
    assert (progress["total"], progress["processed"], progress["created"], progress["skipped"]) == (3, 3, 3, 0)
    assert sorted(titles(fetch(alice, "content"))) == ["estar", "pi", "ser"]
    assert fetch(alice, "today").json() == uncached(alice, "today").json()
    assert fetch(alice, "today").json()["count"] == 3
    assert list(Category.objects.filter(owner=alice.user).values_list("name", flat=True)) == ["Spanish"]
    assert Content.objects.get(owner=alice.user, title="pi").category is None


def test_the_status_answer_has_the_documented_fields(alice):
    progress = imported(alice, CSV)
    assert set(progress) == {
        *("id", "state", "processed", "total", "created", "skipped", "reviews", "reviews_skipped"),
        *("media", "errors", "message", "updated_at"),
    }
    assert progress["message"].startswith("Imported 3 cards")


def test_importing_the_same_deck_twice_creates_nothing_the_second_time(alice):
    imported(alice, CSV)
    again = imported(alice, CSV)
    assert (again["state"], again["created"], again["skipped"]) == ("succeeded", 0, 3)
    assert Content.objects.filter(owner=alice.user).count() == 3
    assert ReviewSchedule.objects.filter(owner=alice.user).count() == 3


def test_a_card_i_made_by_hand_is_not_imported_again(alice):
    assert alice.post("/api/content/", {"title": "ser", "body": "to be"}).status_code == 201
    progress = imported(alice, CSV)
    assert (progress["created"], progress["skipped"]) == (2, 1)


def test_bad_rows_are_skipped_and_said_with_their_line(alice):
    progress = imported(alice, "front,back\nok,fine\n,no front\ntoo,many,cells\n")
    assert (progress["state"], progress["created"], progress["skipped"]) == ("succeeded", 1, 2)
    assert progress["errors"] == ["line 3: the front is empty", "line 4: expected 2 columns, found 3"]


def test_an_anki_package_with_two_decks_and_media_becomes_cards_in_two_categories(alice, tmp_path):
    package = anki_package(
        tmp_path, {"Spanish": [("<b>ser</b>", "to&nbsp;be<br>essence")], "Maths": [("pi", "3.14")]}, media=2
    )
    progress = imported(alice, package, "deck.apkg")

    assert (progress["state"], progress["created"], progress["media"]) == ("succeeded", 2, 2)
    assert "2 media files counted, not stored" in progress["message"]
    cards = dict(Content.objects.filter(owner=alice.user).values_list("title", "category__name"))
    assert cards == {"ser": "Spanish", "pi": "Maths"}
    assert Content.objects.get(owner=alice.user, title="ser").body == "to be\nessence"


def test_anki_review_state_comes_along_on_our_ladder_and_new_cards_are_due_today(alice, tmp_path):
    notes = {1: "ser\x1fto be", 2: "estar\x1fto be (state)", 3: "pi\x1f3.14"}
    cards = [
        AnkiCard(nid=1, type=2, queue=2, due=400, ivl=10),  # in review: 10 days -> our 7-day rung
        AnkiCard(nid=2, type=2, queue=-1, due=30, ivl=200),  # suspended, past our top rung
        AnkiCard(nid=3, type=0, queue=0),  # new
    ]
    progress = imported(alice, anki2_package(tmp_path, notes, cards), "deck.apkg")
    assert (progress["state"], progress["created"]) == ("succeeded", 3)

    schedules = {
        schedule.content.title: schedule
        for schedule in ReviewSchedule.objects.filter(owner=alice.user).select_related("content")
    }
    day_zero = ANKI_CREATED.date()
    assert (schedules["ser"].interval_step, schedules["ser"].next_review_date) == (2, day_zero + timedelta(days=400))
    assert (schedules["ser"].initial_review_completed, schedules["ser"].is_active) == (True, True)
    assert (schedules["estar"].interval_step, schedules["estar"].is_active) == (7, False)
    assert schedules["pi"].next_review_date == learner_day(user_id=alice.user.pk).today  # the learner's day
    assert (schedules["pi"].interval_step, schedules["pi"].initial_review_completed) == (0, False)


def test_another_users_job_is_404_and_so_is_an_unknown_one(alice, bob):
    job = start_import(alice, CSV)
    wait_for_job(alice, job["id"])
    assert bob.get(f"{IMPORTS}{job['id']}/").status_code == 404
    assert bob.get(f"{IMPORTS}{job['id']}/").json() == {"detail": "Not found."}
    assert alice.get(f"{IMPORTS}00000000-0000-0000-0000-000000000000/").status_code == 404
    assert alice.get(f"{IMPORTS}not-a-uuid/").status_code == 404


def test_when_the_progress_key_is_gone_the_job_row_answers_the_same(alice, bob):
    job = start_import(alice, CSV)
    from_redis = wait_for_job(alice, job["id"])
    redis_layer.client(redis_layer.JOBS).delete(*redis_layer.client(redis_layer.JOBS).keys(f"*{job['id']}*"))

    from_row = alice.get(f"{IMPORTS}{job['id']}/").json()
    assert from_row == from_redis
    assert bob.get(f"{IMPORTS}{job['id']}/").status_code == 404


def test_with_redis_down_the_status_still_answers_from_the_job_row(alice, swap_redis):
    job = start_import(alice, CSV)
    wait_for_job(alice, job["id"])
    swap_redis(jobs=DownRedis())
    response = alice.get(f"{IMPORTS}{job['id']}/")
    assert response.status_code == 200
    assert response.json()["state"] == "succeeded"


def test_the_upload_is_dropped_once_the_job_is_done(alice):
    job = start_import(alice, CSV)
    wait_for_job(alice, job["id"])
    assert ImportJob.objects.get(pk=job["id"]).upload is None


# --- Files that cannot be imported: a 400 that says why, and no job -------------------------------


BAD_FILES = {
    "not a zip": (b"this is no zip", "deck.apkg", "zip"),
    "no collection": (zipped({"media": b"{}"}), "deck.apkg", "collection"),
    "corrupt collection": (zipped({"collection.anki2": b"not sqlite at all" * 100}), "deck.apkg", "collection"),
    "wrong csv header": (b"question,answer\nser,to be\n", "deck.csv", "front,back"),
    "csv not utf-8": ("front,back\nni\u00f1o,child\n".encode("latin-1"), "deck.csv", "UTF-8"),
    "empty csv": (b"", "deck.csv", "front,back"),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_file_that_cannot_be_imported_is_a_400_that_says_why(alice, case):
    content, name, said = BAD_FILES[case]
    body = start_import(alice, content, name, status=400)
    assert list(body) == ["file"] and said in body["file"][0], body
    assert not ImportJob.objects.exists()


def test_a_zip_of_50_mb_of_zeros_is_refused_as_too_large(alice):
    bomb = zipped({"collection.anki2": bytes(50 * 2**20)})
    assert len(bomb) < 2**20
    body = start_import(alice, bomb, "deck.apkg", status=400)
    assert "MB" in body["file"][0]
    assert not ImportJob.objects.exists()


def test_an_upload_over_the_limit_is_a_413(alice, settings):
    settings.RESEE = {**settings.RESEE, "IMPORT_MAX_UPLOAD_BYTES": 2**20}
    body = start_import(alice, "front,back\n" + "a,b\n" * 300_000, status=413)
    assert body == {"detail": "The file is larger than 1 MB, the limit of an import."}
    assert not ImportJob.objects.exists()


def test_no_file_is_a_400_and_json_is_a_415(alice):
    assert alice.post(IMPORTS, {}, format="multipart").json() == {
        "file": ["No file was submitted (multipart field `file`)."]
    }
    assert alice.post(IMPORTS, {"file": "x"}, format="json").status_code == 415


def test_a_deck_over_the_note_limit_is_refused(alice, settings):
    settings.RESEE = {**settings.RESEE, "IMPORT_MAX_NOTES": 2}
    body = start_import(alice, CSV, status=400)
    assert "2" in body["file"][0]


def test_with_the_queue_down_the_import_is_a_503_and_its_job_failed(alice):
    with override_settings(
        JOBS_IN_PROCESS=False, CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_loopback_port()}//"
    ):
        response = alice.post(IMPORTS, {"file": io.BytesIO(CSV.encode())}, format="multipart")
    assert response.status_code == 503
    assert response.json() == {"detail": "The job queue is unavailable; nothing was imported. Please retry shortly."}
    job = ImportJob.objects.get()
    assert (job.state, job.upload) == ("failed", None)
    assert not Content.objects.exists()


def test_a_retried_import_with_its_key_gets_the_first_answer_and_queues_one_job(alice):
    def send():
        # Note: the test client draws a new multipart boundary each time, as a retrying client may.
        return alice.post(IMPORTS, {"file": upload(CSV)}, format="multipart", HTTP_IDEMPOTENCY_KEY="deck-1")

    first = send()
    # Note: one job at a time: the tests' in-memory SQLite has table locks that do not wait.
    assert wait_for_job(alice, first.json()["id"])["created"] == 3

    retry = send()

    assert (first.status_code, retry.status_code, retry["Idempotent-Replayed"]) == (202, 202, "true")
    assert retry.json() == first.json() and retry["Location"] == first["Location"]
    assert ImportJob.objects.count() == 1


def test_an_import_refused_for_a_queue_outage_leaves_its_key_free_for_the_retry(alice):
    def send():
        return alice.post(IMPORTS, {"file": upload(CSV)}, format="multipart", HTTP_IDEMPOTENCY_KEY="deck-1")

    with override_settings(
        JOBS_IN_PROCESS=False, CELERY_BROKER_URL=f"amqp://guest:guest@127.0.0.1:{free_loopback_port()}//"
    ):
        assert send().status_code == 503

    retry = send()

    assert retry.status_code == 202 and "Idempotent-Replayed" not in retry
    assert wait_for_job(alice, retry.json()["id"])["state"] == "succeeded"
    assert sorted(ImportJob.objects.values_list("state", flat=True)) == ["failed", "succeeded"]


def test_imports_are_rate_limited_per_user(alice, bob, monkeypatch):
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "imports", "2/hour")
    for _ in range(2):
        # Note: one job at a time: the tests' in-memory SQLite has table locks that do not wait.
        wait_for_job(alice, start_import(alice, CSV)["id"])
    assert alice.post(IMPORTS, {"file": io.BytesIO(CSV.encode())}, format="multipart").status_code == 429
    wait_for_job(bob, start_import(bob, CSV)["id"])


def test_the_content_list_is_fresh_after_an_import_even_if_it_was_cached_mid_way(alice):
    warm(alice, "content")
    progress = imported(alice, CSV)
    assert progress["state"] == "succeeded"
    assert fetch(alice, "content").json() == uncached(alice, "content").json()


def test_in_process_the_job_still_runs_in_the_background_and_reports_part_way(alice):
    rows = "front,back\n" + "".join(f"card {n},back {n}\n" for n in range(3000))
    seen: list[tuple[str, int, int]] = []
    progress = imported(alice, rows, states=seen)
    assert (progress["state"], progress["created"]) == ("succeeded", 3000)
    assert [entry for entry in seen if entry[0] == "running" and 0 < entry[1] < 3000]


def test_an_imported_new_card_is_due_on_the_learners_day_not_the_servers(alice):
    # 20:00 UTC on 15 May is 10:00 on 16 May at UTC+14: the learner's day is a date ahead of UTC.
    set_learner(alice, time_zone="Pacific/Kiritimati")
    with clock.use(now=lambda: datetime(2024, 5, 15, 20, 0, tzinfo=UTC)):
        progress = imported(alice, "front,back\nuno,one\n")

    assert progress["state"] == "succeeded", progress
    assert ReviewSchedule.objects.get(owner=alice.user).next_review_date == date(2024, 5, 16)


def test_the_stats_count_an_anki_packages_history_once_its_job_ends(alice, tmp_path):
    warm(alice, "stats")
    yesterday = clock.now().replace(microsecond=0) - timedelta(days=1)
    log = [AnkiReview(cid=1, at=yesterday, ease=1), AnkiReview(cid=1, at=yesterday + timedelta(minutes=5), ease=3)]
    log += [AnkiReview(cid=2, at=yesterday - timedelta(days=1), ease=4)]
    log += [AnkiReview(cid=2, at=yesterday, ease=0, type=4)]  # a manual reschedule: no answer
    package = anki2_package(tmp_path, {1: "a\x1fb", 2: "c\x1fd"}, [AnkiCard(1), AnkiCard(2)], revlog=log)
    progress = imported(alice, package, "deck.apkg")

    assert (progress["reviews"], progress["reviews_skipped"]) == (3, 1)
    stats = assert_fresh(alice, "stats").json()
    assert stats == uncached(alice, "stats").json()
    assert (stats["total_reviews"], stats["success_rate"]) == (3, round(100 * 2 / 3, 1))
    assert sum(day["reviews"] for day in stats["reviews_per_day"]) == 3
