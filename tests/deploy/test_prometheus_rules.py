"""deploy/prometheus: the rules and the scrape configuration pass promtool's checks, the rule unit
tests (rules_test.yml) pass, cover every rule, and notice a threshold or a rule moved by a hair.

promtool comes from Debian's `prometheus` package (.ci/run installs it). Without it the promtool
tests skip and say why, except in CI, where a missing promtool is a failure (tests.servers).
"""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.db import connection
from prometheus_client import REGISTRY

from tests.servers import require_binary

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
RULES_TEST = PROMETHEUS_DIR / "rules_test.yml"
CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_IN_CONTAINER = "/etc/prometheus/rules.yml"


@pytest.fixture
def promtool() -> str:
    return require_binary("promtool")


def run(*args, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def assert_succeeds(result: subprocess.CompletedProcess) -> None:
    assert result.returncode == 0, f"{' '.join(result.args)}\n{result.stdout}\n{result.stderr}"


def rules_by_name(groups: dict) -> dict[str, dict]:
    return {rule.get("record") or rule["alert"]: rule for group in groups["groups"] for rule in group["rules"]}


# --- promtool ------------------------------------------------------------------------------------


def test_the_rules_pass_promtool_check_rules(promtool):
    result = run(promtool, "check", "rules", str(RULES))

    assert_succeeds(result)
    assert f"SUCCESS: {len(rules_by_name(yaml.safe_load(RULES.read_text())))} rules found" in result.stdout


def test_the_rule_unit_tests_pass(promtool):
    assert_succeeds(run(promtool, "test", "rules", str(RULES_TEST)))


def test_the_scrape_config_passes_promtool_check_config_with_the_rules_at_their_repo_path(promtool, tmp_path):
    """The config names the rules and the metrics token by their paths in the container, which do
    not exist here, so a copy pointing at the repository's rules.yml and a token file is checked."""
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == [RULES_IN_CONTAINER]
    config["rule_files"] = [str(RULES)]
    token = tmp_path / "metrics_token"
    token.write_text("a-token\n")
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config))

    result = run(promtool, "check", "config", str(copy))

    assert_succeeds(result)
    assert "SUCCESS: 1 rule files found" in result.stdout
    assert f"Checking {RULES}" in result.stdout


def test_the_scrape_config_scrapes_the_api_redis_exporter_and_prometheus():
    config = yaml.safe_load(CONFIG.read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}

    assert config["rule_files"] == [RULES_IN_CONTAINER]
    assert set(jobs) == {"resee", "redis", "prometheus"}
    assert jobs["resee"]["static_configs"] == [{"targets": ["web:8000"]}]
    assert jobs["resee"]["metrics_path"] == "/metrics"
    assert jobs["redis"]["static_configs"] == [{"targets": ["redis_exporter:9121"]}]


# --- The unit tests test something ---------------------------------------------------------------


def test_the_unit_tests_cover_every_recording_rule_and_every_alert():
    rules = rules_by_name(yaml.safe_load(RULES.read_text()))
    tests = yaml.safe_load(RULES_TEST.read_text())["tests"]
    queried = " ".join(case["expr"] for test in tests for case in test.get("promql_expr_test", []))
    alerted = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    firing = {case["alertname"] for test in tests for case in test.get("alert_rule_test", []) if case.get("exp_alerts")}

    recorded = {name for name, rule in rules.items() if "record" in rule}
    alerts = set(rules) - recorded
    assert {name for name in recorded if name not in queried} == set()
    assert alerts - alerted == set()
    assert alerts - firing == set(), "every alert needs a case where it fires"


# (rule, where, old, new): each mutation must make `promtool test rules` fail, which proves the
# boundary cases (exactly 60 %, exactly 80 %, ...) and the edge cases are really tested.
MUTATIONS = [
    ("ReseeCacheHitRatioLow", "expr", "< 0.6", "<= 0.6"),
    ("ReseeCacheHitRatioLow", "for", "10m", "9m"),
    ("ReseeCacheHitRatioLow", "expr", ">= 0.2", "> 0.2"),
    ("RedisMemoryHigh", "expr", "unless", "and"),
    ("RedisMemoryHigh", "expr", "allkeys-.*", "allkeys-lru"),
    ("job:resee_cache_requests:rate5m", "expr", "by (job)", "by (job, endpoint)"),
    ("ApiLatencyHigh", "expr", "> 0.5", ">= 0.5"),
    ("RedisMemoryHigh", "expr", "> 0.8", ">= 0.8"),
    ("RedisTooManyClients", "expr", "> 5000", ">= 5000"),
    ("RedisEvictionsHigh", "expr", "> 100", ">= 100"),
    ("RedisDown", "expr", "== 0", "< 2"),
    ("RedisMetricsAbsent", "expr", 'job="redis"', 'job="resee"'),
    ("job:resee_cache_hit_ratio:ratio_rate5m", "expr", "hit|stale", "hit"),
    ("endpoint:resee_cache_hit_ratio:ratio_rate5m", "expr", "or", "unless"),
    ("endpoint_result:resee_cache_request_seconds:p99_rate5m", "expr", "0.99", "0.95"),
    ("instance:redis_memory_used:ratio", "expr", "(redis_memory_max_bytes > 0)", "redis_memory_max_bytes"),
    ("instance:redis_keyspace_hit_ratio:ratio_rate5m", "expr", "+ rate(redis_keyspace_misses_total[5m])", ""),
    (
        "job:django_db_execute:per_minute_rate5m",
        "expr",
        "rate(django_db_execute_total[5m])",
        "rate(django_db_execute_total[5m]) + rate(django_db_execute_many_total[5m])",
    ),
    ("job:django_http_requests_latency_seconds:p95_rate5m", "expr", "register|token|", ""),
]


@pytest.mark.parametrize(("rule", "where", "old", "new"), MUTATIONS, ids=lambda value: str(value)[:40])
def test_the_unit_tests_fail_when_a_rule_changes(promtool, tmp_path, rule, where, old, new):
    groups = yaml.safe_load(RULES.read_text())
    target = rules_by_name(groups)[rule]
    assert old in target[where], f"{rule}.{where} no longer contains {old!r}: update the mutation"
    target[where] = target[where].replace(old, new, 1)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(groups, sort_keys=False))
    shutil.copy(RULES_TEST, tmp_path / "rules_test.yml")
    assert_succeeds(run(promtool, "check", "rules", "rules.yml", cwd=tmp_path))

    result = run(promtool, "test", "rules", "rules_test.yml", cwd=tmp_path)

    assert result.returncode != 0, f"{rule}: {where} {old!r} -> {new!r} went unnoticed\n{result.stdout}"


# --- Assumptions behind the rules ----------------------------------------------------------------


def test_executemany_is_already_counted_in_django_db_execute_total(db):
    """Why the SQL-per-minute rule reads django_db_execute_total alone: django-prometheus counts an
    executemany() in both counters, so adding django_db_execute_many_total would count it twice."""
    labels = {"alias": connection.alias, "vendor": connection.vendor}

    def counted() -> tuple[float, float]:
        return tuple(
            REGISTRY.get_sample_value(name, labels) or 0.0
            for name in ("django_db_execute_total", "django_db_execute_many_total")
        )

    before = counted()
    with connection.cursor() as cursor:
        cursor.executemany("UPDATE auth_user SET is_active = is_active WHERE id = %s", [(1,), (2,), (3,)])
    after = counted()

    assert (after[0] - before[0], after[1] - before[1]) == (3.0, 3.0)
