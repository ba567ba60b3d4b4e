"""The ops view against the real parts: a Redis, gunicorn (2 workers, the real settings), Debian's
prometheus-redis-exporter and a Prometheus server, all of this test's own on free loopback ports,
Prometheus scraping and evaluating every second with deploy/prometheus/rules.yml and a scrape
configuration made from deploy/prometheus/prometheus.yml itself (only its hosts and intervals
changed, so the two cannot drift). After a bounded load every panel query of the provisioned
dashboard must return data, the hit ratio must be the one the client saw, every recording rule
must record, and the alerts must go pending exactly when their conditions hold."""

import json
import math
import secrets
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
import yaml
from rest_framework_simplejwt.tokens import RefreshToken

from content.services import content_create
from tests.servers import GunicornServer, PrometheusServer, RedisExporter, app_env, own_redis_server

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
DASHBOARD = json.loads((ROOT / "deploy" / "grafana" / "dashboards" / "resee-cache.json").read_text())
CACHED = {"today": "/api/review/today/", "stats": "/api/analytics/stats/", "content": "/api/content/"}
# Queries never asked before: each one a miss. (Not today's: a new category slug is answered out
# of the user's one today entry, a hit; nor stats, one answer per user.)
MISSING = {"content": "?search={}"}
WAIT_SECONDS = 20  # the bound on every wait for Prometheus


def wait_for(check, what: str):
    deadline = time.monotonic() + WAIT_SECONDS
    while not (found := check()):
        assert time.monotonic() < deadline, f"no {what} after {WAIT_SECONDS} s"
        time.sleep(0.25)
    return found


def scrape_config(workdir: Path, *, targets: dict[str, str], token: str) -> Path:
    """prometheus.yml pointed at this test's servers: every target it names must be mapped here."""
    config = yaml.safe_load(CONFIG.read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(RULES)]
    token_file = workdir / "metrics_token"
    token_file.write_text(token)
    for job in config["scrape_configs"]:
        for static in job["static_configs"]:
            static["targets"] = [targets[target] for target in static["targets"]]
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token_file)
    path = workdir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, query) of every panel, its template variables given their "all" value."""
    variables = {variable["name"]: variable.get("allValue", ".*") for variable in DASHBOARD["templating"]["list"]}
    queries = []
    for panel in DASHBOARD["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in variables.items():
                expr = expr.replace(f"${name}", value)
            queries.append((panel["title"], expr))
    return queries


def recorded_rules() -> list[str]:
    return [
        rule["record"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "record" in rule
    ]


def pending(prometheus: PrometheusServer, alert: str) -> bool:
    return bool(prometheus.query(f'ALERTS{{alertname="{alert}"}}'))


@pytest.fixture
def stack(tmp_path, make_user):
    user = make_user("ops")
    for n in range(5):
        content_create(owner_id=user.id, title=f"card {n}")
    token, access = secrets.token_urlsafe(16), str(RefreshToken.for_user(user).access_token)
    with own_redis_server(tmp_path / "redis", "--maxmemory", "64mb", "--maxmemory-policy", "allkeys-lru") as redis:
        metrics_dir = tmp_path / "metrics"
        metrics_dir.mkdir()
        env = app_env(
            REDIS_URL=redis.url,
            METRICS_TOKEN=token,
            THROTTLE_USER_RATE="1000000/min",
            PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        )
        with GunicornServer(tmp_path, env, workers=2) as web, RedisExporter(tmp_path, redis.url) as exporter:

            def config_for(port: int) -> Path:
                targets = {"web:8000": web.port, "redis_exporter:9121": exporter.port, "localhost:9090": port}
                return scrape_config(
                    tmp_path, targets={name: f"127.0.0.1:{p}" for name, p in targets.items()}, token=token
                )

            with PrometheusServer(tmp_path, config_for) as prometheus:
                yield web, prometheus, redis, access, env


def load(web: GunicornServer, access: str, *, seconds: float, misses: bool) -> Counter:
    """Reads of the cached endpoints (and a write now and then) for `seconds`: X-Cache by count."""
    seen: Counter = Counter()
    deadline, n = time.monotonic() + seconds, 0
    while time.monotonic() < deadline:
        n += 1
        for endpoint, path in CACHED.items():
            if misses and endpoint not in MISSING:
                continue
            query = MISSING[endpoint].format(uuid.uuid4().hex) if misses else ""
            status, headers, _ = web.request("GET", path + query, token=access)
            assert status == 200
            seen[headers["X-Cache"]] += 1
        if n % 25 == 0:
            body = json.dumps({"title": f"written {uuid.uuid4().hex}"})
            assert web.request("POST", "/api/content/", token=access, body=body)[0] == 201
    return seen


def assert_cache_stats_reads_what_prometheus_scraped(prometheus: PrometheusServer, env: dict) -> None:
    """With no traffic since the last scrape, `manage.py cache_stats` (the workers' counters and
    Redis INFO) and Prometheus (the same counters scraped, the exporter's INFO) agree."""
    command = [sys.executable, "manage.py", "cache_stats", "--json"]
    report = json.loads(subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout)
    scraped = {
        (series["metric"]["endpoint"], series["metric"]["result"]): float(series["value"][1])
        for series in prometheus.query('sum by (endpoint, result) (resee_cache_requests_total{job="resee"})')
    }
    counted = {
        (endpoint, result): float(count)
        for endpoint, by_result in report["requests"].items()
        for result, count in by_result.items()
        if result not in ("total", "hit_ratio") and count
    }
    assert counted == scraped
    exporter = {
        name: float(prometheus.query(f'{metric}{{job="redis"}}')[0]["value"][1])
        for name, metric in (("maxmemory", "redis_memory_max_bytes"), ("evicted_keys", "redis_evicted_keys_total"))
    }
    assert {name: report["redis"][name] for name in exporter} == exporter
    [keyspace] = prometheus.query("instance:redis_keyspace_hit_ratio:ratio_rate5m")
    assert report["redis"]["hit_ratio"] is not None and float(keyspace["value"][1]) > 0


def test_every_panel_and_rule_has_data_and_the_alerts_follow_their_conditions(stack):
    web, prometheus, redis, access, env = stack
    # Every series exists before the counted load, so that rate() sees all of the load.
    load(web, access, seconds=0.5, misses=True)
    load(web, access, seconds=0.5, misses=False)
    wait_for(lambda: prometheus.query('resee_cache_requests_total{result="hit"}'), "scraped app metrics")
    time.sleep(2)

    seen = load(web, access, seconds=8, misses=False)
    time.sleep(3)  # two scrapes and evaluations after the last request

    for title, expr in panel_queries():
        result = prometheus.query(expr)
        # Note: a quantile of a result that had no request in the window is NaN (a gap in the graph).
        assert any(math.isfinite(float(series["value"][1])) for series in result), (title, expr, result)
    client_ratio = (seen["HIT"] + seen["STALE"]) / sum(seen.values())
    [overall] = prometheus.query('job:resee_cache_hit_ratio:ratio_rate5m{job="resee"}')
    assert abs(float(overall["value"][1]) - client_ratio) < 0.05, (overall, seen)
    for record in recorded_rules():
        assert prometheus.query(record), f"recording rule {record} records nothing"
    assert client_ratio > 0.6 and not pending(prometheus, "ReseeCacheHitRatioLow")
    assert_cache_stats_reads_what_prometheus_scraped(prometheus, env)

    # A miss-heavy phase, until the ratio of the window falls below 60 % and the alert is pending.
    deadline = time.monotonic() + 40
    while not pending(prometheus, "ReseeCacheHitRatioLow"):
        assert time.monotonic() < deadline, "no pending ReseeCacheHitRatioLow after 40 s of misses"
        load(web, access, seconds=1, misses=True)

    # Nearly full: an allkeys-lru cache is so by design; under volatile-lru the alert warns.
    with redis.admin() as admin:
        admin.config_set("maxmemory", int(admin.info("memory")["used_memory"] * 1.1))
        time.sleep(3)
        assert prometheus.query("instance:redis_memory_used:ratio > 0.8")
        assert not pending(prometheus, "RedisMemoryHigh")
        admin.config_set("maxmemory-policy", "volatile-lru")
        wait_for(lambda: pending(prometheus, "RedisMemoryHigh"), "pending RedisMemoryHigh")
    # The connections alert reads the exporter's real metric (its threshold is not reachable here).
    assert prometheus.query("redis_connected_clients > 0")
