from unittest import mock

from redis.exceptions import ConnectionError as RedisConnectionError


def test_health_reports_database_and_cache_ok(anon):
    response = anon.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_health_stays_ready_but_degraded_when_redis_is_down(anon):
    with mock.patch("redis.Redis.ping", side_effect=RedisConnectionError("down")):
        response = anon.get("/api/health/")
    assert response.status_code == 200
    assert response.json() == {"status": "degraded", "database": "ok", "cache": "unavailable"}


def test_unknown_api_route_is_json_404(anon):
    response = anon.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}
