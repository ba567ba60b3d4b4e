"""A learner's recount and replay through a real Celery worker started by the test (RabbitMQ, Redis,
PostgreSQL), on the one task every kind of job goes by (resee.tasks); the imports' own are in
tests/decks/test_worker.py."""

from datetime import UTC, datetime, time, timedelta

import pytest
from django.conf import settings
from django.test import override_settings

from analytics.models import DayTally
from review.models import ReviewSchedule
from tests.helpers import fetch, make_card, make_history, uncached, wait_for_recount, wait_for_replay, warm
from tests.servers import CeleryWorker, app_env, delete_queue, require_rabbitmq

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_env():
    require_rabbitmq()
    assert not settings.JOBS_IN_PROCESS  # a real Redis: jobs go to the broker
    yield app_env()
    delete_queue(settings.CELERY_TASK_DEFAULT_QUEUE)


def test_a_worker_recounts_a_learners_days_into_their_new_zone_and_the_stats_show_them(alice, worker_env, tmp_path):
    day = datetime.now(UTC).date() - timedelta(days=3)
    make_history(alice, make_card(alice), at=datetime.combine(day, time(20), tzinfo=UTC))  # 05:00 the next day in Seoul
    warm(alice, "stats")
    resee = {**settings.RESEE, "RECOUNT_INLINE_MAX_REVIEWS": 0}
    with CeleryWorker(tmp_path, worker_env), override_settings(RESEE=resee):
        assert alice.patch("/api/auth/me/", {"time_zone": "Asia/Seoul"}).json()["days_recount_job"] is not None
        wait_for_recount(alice)

    assert dict(DayTally.objects.filter(user=alice.user).values_list("day", "reviews")) == {day + timedelta(days=1): 1}
    stats = fetch(alice, "stats").json()
    assert stats == uncached(alice, "stats").json()
    assert not stats["days_recounting"]


def test_a_worker_replays_a_learners_history_into_fsrs_after_a_switch(alice, worker_env, tmp_path):
    cards = [make_card(alice) for _ in range(3)]
    for card in cards:
        make_history(alice, card, "good", at=datetime.now(UTC) - timedelta(days=5))
    warm(alice, "today")
    resee = {**settings.RESEE, "RECOUNT_INLINE_MAX_REVIEWS": 0}
    with CeleryWorker(tmp_path, worker_env), override_settings(RESEE=resee):
        assert alice.patch("/api/auth/me/", {"scheduler": "fsrs"}).json()["reschedule_job"] is not None
        wait_for_replay(alice)

    assert not ReviewSchedule.objects.filter(owner=alice.user, stability__isnull=True).exists()
    assert fetch(alice, "today").json() == uncached(alice, "today").json()
