"""With Redis unreachable, reads still answer 200 from the database and logout still revokes."""

from contextlib import contextmanager

from django.conf import settings
from django.test import override_settings

from accounts.models import RevokedToken
from tests.servers import free_loopback_port


@contextmanager
def redis_unreachable():
    """Point every cache alias at a loopback port nothing listens on (connection refused)."""
    dead = f"redis://127.0.0.1:{free_loopback_port()}"
    caches = {
        alias: {
            **config,
            "LOCATION": f"{dead}/{config['LOCATION'].rsplit('/', 1)[-1]}",
            "OPTIONS": {**config["OPTIONS"], "CONNECTION_POOL_KWARGS": {}},
        }
        for alias, config in settings.CACHES.items()
    }
    with override_settings(CACHES=caches):
        yield


def test_reads_are_served_from_the_database_when_redis_is_down(alice):
    alice.post("/api/content/", {"title": "still here"})
    with redis_unreachable():
        today = alice.get("/api/review/today/")
        stats = alice.get("/api/analytics/stats/")
        contents = alice.get("/api/content/")
    assert today.status_code == 200 and today.json()["count"] == 1
    assert stats.status_code == 200 and stats.json()["total_contents"] == 1
    assert contents.status_code == 200 and contents.json()["count"] == 1


def test_writes_commit_when_redis_is_down(alice):
    with redis_unreachable():
        created = alice.post("/api/content/", {"title": "written during the outage"})
    assert created.status_code == 201
    assert alice.get(f"/api/content/{created.json()['id']}/").status_code == 200


def test_logout_during_an_outage_still_revokes_the_token(alice):
    assert alice.get("/api/review/today/").status_code == 200  # loads the user's revocation hash
    with redis_unreachable():
        assert alice.post("/api/auth/logout/").status_code == 204
        assert alice.get("/api/review/today/").status_code == 401
    assert RevokedToken.objects.filter(user_id=alice.user.id, token_type=RevokedToken.ACCESS).exists()
    # Redis is back, holding the hash it had before the logout: the replayed write must win.
    assert alice.get("/api/review/today/").status_code == 401


def test_health_says_degraded_when_redis_is_down(anon):
    with redis_unreachable():
        response = anon.get("/api/health/")
    assert response.status_code == 200
    assert response.json()["cache"] == "unavailable"
