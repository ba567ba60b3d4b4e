"""Errors are JSON, never an HTML page, and an unreachable database is a 503, not a 500."""

from unittest import mock

from django.db import OperationalError


def test_an_unexpected_exception_is_a_json_500_without_a_trace(alice):
    alice.raise_request_exception = False
    with mock.patch("analytics.selectors.stats_for", side_effect=RuntimeError("boom")):
        response = alice.get("/api/analytics/stats/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error."}
    assert b"boom" not in response.content


def test_an_unreachable_database_is_a_json_503_with_retry_after(alice):
    with mock.patch("analytics.selectors.stats_for", side_effect=OperationalError("connection refused")):
        response = alice.get("/api/analytics/stats/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "database" in response.json()["detail"].lower()


def test_unknown_route_outside_the_api_is_json_404_too(anon):
    response = anon.get("/definitely/not/here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


def test_a_missing_trailing_slash_is_a_404_not_a_redirect(alice):
    response = alice.get("/api/review/today")
    assert response.status_code == 404


def test_an_id_too_large_for_the_database_is_a_404_not_an_overflow(alice):
    assert alice.get(f"/api/content/{10**30}/").status_code == 404
    assert alice.patch(f"/api/review/schedules/{2**64}/", {"is_active": False}).status_code == 404
