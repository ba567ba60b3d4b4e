"""The slow-request log (utils.middleware.SlowRequestLogMiddleware).

Requests are made slow for certain by a sleep in a patched selector, and the threshold is set
well below that sleep, so no test depends on how fast the machine is.
"""

import logging
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from review import selectors as review_selectors
from tests.helpers import clock, make_card  # noqa: F401  (clock: autouse)
from utils.middleware import _QueryCount

SLEEP_SECONDS = 0.05


def slow_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "resee.slow"]


@pytest.fixture
def slow_selectors(monkeypatch):
    """today_reviews_for, today_shared_for and history_list_for sleep SLEEP_SECONDS first; `seen`
    records whether a query counter was installed while they ran."""
    seen = []

    def slowed(real):
        def run(**kwargs):
            seen.append(any(isinstance(w, _QueryCount) for w in connection.execute_wrappers))
            time.sleep(SLEEP_SECONDS)
            return real(**kwargs)

        return run

    for name in ("today_reviews_for", "today_shared_for", "history_list_for"):
        monkeypatch.setattr(review_selectors, name, slowed(getattr(review_selectors, name)))
    return seen


def test_a_slow_request_is_logged_with_path_query_keys_status_cache_result_and_sql_count(
    alice, settings, caplog, slow_selectors
):
    make_card(alice, "Due")
    settings.SLOW_REQUEST_MS = 5
    caplog.clear()

    with CaptureQueriesContext(connection) as queries:
        response = alice.get("/api/review/today/", {"category_slug": "secret-search-text"})

    assert response["X-Cache"] == "MISS"
    [record] = slow_records(caplog)
    assert record.levelno == logging.WARNING
    assert (record.method, record.path, record.query_keys, record.status) == (
        "GET",
        "/api/review/today/",
        "category_slug",
        200,
    )
    assert (record.cache, record.sql) == ("MISS", len(queries))
    assert record.sql >= 1
    assert record.duration_ms >= SLEEP_SECONDS * 1000
    message = record.getMessage()
    assert message.startswith("slow request: method=GET path=/api/review/today/ query_keys=category_slug status=200 ")
    assert "cache=MISS" in message and f"sql={len(queries)}" in message
    assert "secret" not in message
    assert not any(isinstance(w, _QueryCount) for w in connection.execute_wrappers), "counter left installed"


def test_a_hit_is_logged_with_its_cache_result_and_no_sql(alice, settings, caplog):
    alice.get("/api/review/today/")
    settings.SLOW_REQUEST_MS = 0.001  # every request is slower than a microsecond
    caplog.clear()

    response = alice.get("/api/review/today/")

    assert response["X-Cache"] == "HIT"
    [record] = slow_records(caplog)
    assert (record.cache, record.sql) == ("HIT", 0)


def test_an_endpoint_without_the_cache_is_logged_with_a_dash_for_x_cache(alice, settings, caplog, slow_selectors):
    settings.SLOW_REQUEST_MS = 5
    caplog.clear()

    assert alice.get("/api/review/history/").status_code == 200

    [record] = slow_records(caplog)
    assert (record.path, record.query_keys, record.cache) == ("/api/review/history/", "-", "-")
    assert "cache=- sql=" in record.getMessage()


def test_a_request_faster_than_the_threshold_is_not_logged(alice, settings, caplog, slow_selectors):
    settings.SLOW_REQUEST_MS = 10**9
    caplog.clear()

    assert alice.get("/api/review/today/").status_code == 200

    assert slow_records(caplog) == []
    assert slow_selectors == [True]


def test_a_threshold_of_0_turns_the_log_and_the_query_counting_off(alice, settings, caplog, slow_selectors):
    settings.SLOW_REQUEST_MS = 0
    caplog.clear()

    assert alice.get("/api/review/today/").status_code == 200

    assert slow_records(caplog) == []
    assert slow_selectors == [False]


def test_a_path_cannot_split_the_log_line(anon, settings, caplog):
    settings.SLOW_REQUEST_MS = 0.001
    caplog.clear()

    anon.get("/api/no%20such%0Aroute/", {"q\nforged": "x"})  # the path as sent, percent-encoded

    [record] = slow_records(caplog)
    message = record.getMessage()
    assert "\n" not in message and " such" not in message
    assert "path=/api/no%20such%0Aroute/ query_keys=q%0Aforged status=404" in message


def test_a_malformed_content_length_is_read_as_zero_not_a_500(alice):
    response = alice.get("/api/content/", CONTENT_LENGTH="many")
    assert response.status_code == 200
    response = alice.post("/api/content/", {"title": "t"}, format="json", CONTENT_LENGTH="many")
    assert response.status_code == 400
