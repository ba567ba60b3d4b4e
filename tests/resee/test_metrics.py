"""/metrics tells ops what the cache did: counters whose labels and values match the requests
made, in one process and added up across gunicorn's workers (prometheus-client multiprocess)."""

import os
import signal
import time
from collections import Counter

import pytest
from django.test import override_settings
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import GunicornServer, app_env
from utils import redis_layer
from utils.cache_utils.conf import NAMESPACES

TODAY_URL, STATS_URL, CONTENT_URL = "/api/review/today/", "/api/analytics/stats/", "/api/content/"
CACHE_LABELS = {"endpoint", "result", "reason", "operation", "le"}


def parse(text: str) -> Counter:
    """{(sample name, ((label, value), ...)): value} of a /metrics page."""
    samples = Counter()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] += sample.value
    return samples


def scrape(client) -> Counter:
    response = client.get("/metrics")
    assert response.status_code == 200
    return parse(response.content.decode())


def requests_counted(samples: Counter, endpoint: str, result: str, name: str = "resee_cache_requests_total") -> float:
    return samples[name, (("endpoint", endpoint), ("result", result))]


def test_the_cache_counters_match_the_requests_made_with_their_results(alice, anon):
    alice.post(CONTENT_URL, {"title": "first"}, format="json")
    before = scrape(anon)
    today = [alice.get(TODAY_URL) for _ in range(3)]
    not_modified = alice.get(TODAY_URL, HTTP_IF_NONE_MATCH=today[-1]["ETag"])
    stats = alice.get(STATS_URL)
    content = [alice.get(CONTENT_URL) for _ in range(2)]
    with override_settings(RESEE_CACHE={"ENABLED": False}):
        bypassed = alice.get(STATS_URL)
    alice.post(CONTENT_URL, {"title": "second"}, format="json")
    after = scrape(anon)

    assert [r["X-Cache"] for r in today] == ["MISS", "HIT", "HIT"]
    assert (not_modified.status_code, not_modified["X-Cache"]) == (304, "HIT")
    assert (stats["X-Cache"], bypassed["X-Cache"]) == ("MISS", "BYPASS")
    assert [r["X-Cache"] for r in content] == ["MISS", "HIT"]
    expected = {("today", "miss"): 1, ("today", "hit"): 3, ("stats", "miss"): 1, ("stats", "bypass"): 1}
    expected |= {("content", "miss"): 1, ("content", "hit"): 1}
    for endpoint in NAMESPACES:
        for result in ("hit", "miss", "stale", "bypass"):
            made = expected.get((endpoint, result), 0)
            for name in ("resee_cache_requests_total", "resee_cache_request_seconds_count"):
                counted = requests_counted(after, endpoint, result, name) - requests_counted(
                    before, endpoint, result, name
                )
                assert counted == made, (name, endpoint, result)
    lookups = after["resee_cache_lookup_seconds_count", (("endpoint", "today"),)]
    assert lookups - before["resee_cache_lookup_seconds_count", (("endpoint", "today"),)] >= 4
    computed = after["resee_cache_compute_seconds_count", (("endpoint", "stats"),)]
    assert computed - before["resee_cache_compute_seconds_count", (("endpoint", "stats"),)] == 2  # miss, bypass
    invalidations = after["resee_cache_invalidations_total", (("reason", "content"),)]
    assert invalidations - before["resee_cache_invalidations_total", (("reason", "content"),)] == 1
    assert after["resee_redis_breaker_open", (("server", redis_layer.route(redis_layer.CACHE).server),)] == 0


def test_cache_metrics_are_labelled_by_endpoint_never_by_user_or_key(alice, bob, anon):
    for client in (alice, bob):
        client.get(TODAY_URL)
        client.get(CONTENT_URL, {"search": f"secret-{client.user.pk}"})
    samples = scrape(anon)
    cache_samples = [(name, dict(labels)) for name, labels in samples if name.startswith("resee_cache_")]
    assert cache_samples
    for name, labels in cache_samples:
        assert set(labels) <= CACHE_LABELS, name
        assert labels.get("endpoint", NAMESPACES[0]) in NAMESPACES, (name, labels)
    assert not any("secret" in value for _, labels in cache_samples for value in labels.values())


def test_django_prometheus_counts_the_requests_and_the_sql_queries(alice, anon):
    before = scrape(anon)
    alice.get(CONTENT_URL)
    after = scrape(anon)
    view = (("method", "GET"), ("view", "content-list"))
    assert after["django_http_requests_latency_seconds_by_view_method_count", view] == (
        before["django_http_requests_latency_seconds_by_view_method_count", view] + 1
    )
    queries = sum(v for (name, _), v in after.items() if name == "django_db_execute_total")
    assert queries > sum(v for (name, _), v in before.items() if name == "django_db_execute_total")


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_under_gunicorn_the_counters_add_up_across_workers_and_survive_a_worker_restart(make_client, tmp_path):
    """Two workers, requests on fresh connections until both have served some; then one worker
    is killed and replaced, and the total still counts every request ever made."""
    token = make_client("alice").tokens["access"]
    env = app_env(PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"))
    with GunicornServer(tmp_path, env, workers=2) as server:

        def today_total() -> float:
            samples = parse(server.request("GET", "/metrics")[2].decode())
            return sum(requests_counted(samples, "today", result) for result in ("hit", "miss", "stale", "bypass"))

        def get_today(times: int) -> None:
            for _ in range(times):
                assert server.request("GET", TODAY_URL, token=token)[0] == 200

        made = 0
        while len(set(server.worker_pids(TODAY_URL))) < 2:
            assert made < 400, f"one worker served all {made} requests:\n{server.log_tail()}"
            get_today(20)
            made += 20
        assert today_total() == made

        served = server.worker_pids(TODAY_URL)
        victim = served[-1]
        os.kill(victim, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while not set(server.worker_pids(TODAY_URL)[len(served) :]) - set(served):
            assert time.monotonic() < deadline, f"no replacement worker served:\n{server.log_tail()}"
            get_today(10)
            made += 10
        assert today_total() == made
        breaker = ("resee_redis_breaker_open", (("server", redis_layer.route(redis_layer.CACHE).server),))
        assert parse(server.request("GET", "/metrics")[2].decode())[breaker] == 0


# --- Who may read /metrics ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", "Token s3cret-metrics", "Bearer s3cret-metric", "Bearer s3cret-metrics2"],
)
def test_with_a_metrics_token_set_a_scrape_without_exactly_that_bearer_token_is_401(anon, authorization):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}
    with override_settings(METRICS_TOKEN="s3cret-metrics"):
        response = anon.get("/metrics", **headers)
    assert response.status_code == 401
    assert response.json() == {"detail": "A valid metrics token is required."}
    assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_with_a_metrics_token_set_the_scrape_presenting_it_reads_the_metrics(anon):
    with override_settings(METRICS_TOKEN="s3cret-metrics"):
        response = anon.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics")
    assert response.status_code == 200
    assert "resee_cache_requests_total" in response.content.decode()


def test_without_a_metrics_token_the_page_is_open_as_in_development(anon):
    with override_settings(METRICS_TOKEN=None):
        assert anon.get("/metrics").status_code == 200
