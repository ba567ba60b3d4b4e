"""deploy/grafana: the provisioned dashboard is valid Grafana JSON on the provisioned datasource,
and every metric name in its queries and in the Prometheus rules exists: a recording rule of
rules.yml, a name the app really exports on /metrics, or a redis_exporter metric listed below.
"""

import json
import re
from itertools import product
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = json.loads((GRAFANA_DIR / "dashboards" / "resee-cache.json").read_text())
DATASOURCES = yaml.safe_load((GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text())
PROVIDERS = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "resee.yml").read_text())
RULES = yaml.safe_load((ROOT / "deploy" / "prometheus" / "rules.yml").read_text())
RULE_LIST = [rule for group in RULES["groups"] for rule in group["rules"]]
RECORDED = {rule["record"] for rule in RULE_LIST if "record" in rule}

# What redis_exporter (oliver006/redis_exporter, default namespace "redis") exports under these
# names, from its exporter/exporter.go: the INFO field maps and the metric descriptions.
REDIS_EXPORTER_METRICS = {
    "redis_up",  # 1 when the exporter reached Redis on this scrape, else 0
    "redis_memory_used_bytes",  # INFO used_memory
    "redis_memory_max_bytes",  # INFO maxmemory; 0 means unlimited
    "redis_connected_clients",  # INFO connected_clients
    "redis_evicted_keys_total",  # INFO evicted_keys
    "redis_keyspace_hits_total",  # INFO keyspace_hits
    "redis_keyspace_misses_total",  # INFO keyspace_misses
    "redis_db_keys",  # INFO keyspace, one series per database: db="db0", "db1", ...
    "redis_instance_info",  # 1, labelled with INFO fields: maxmemory_policy, redis_version, role, ...
}

# Words of PromQL that look like metric names: aggregations (`sum by (x) (...)` is not followed by
# a parenthesis), binary operators, modifiers and special numbers.
PROMQL_KEYWORDS = {
    *("sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"),
    *("bottomk", "topk", "quantile", "and", "or", "unless", "bool", "offset", "inf", "nan"),
    *("by", "without", "on", "ignoring", "group_left", "group_right"),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers that are not functions (followed by
    `(`), keywords, label names (inside `{}` or a `by (...)`-like list), durations or strings."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', "", expr)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][\w:]*", text):
        followed_by_call = text[match.end() :].lstrip().startswith("(")
        if not followed_by_call and match.group().lower() not in PROMQL_KEYWORDS:
            names.add(match.group())
    return names


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ('sum by (endpoint) (rate(a_total{result=~"hit|stale"}[5m])) or b * 0', {"a_total", "b"}),
        ("histogram_quantile(0.95, sum by (le, job) (rate(x_bucket[$__rate_interval])))", {"x_bucket"}),
        ("a / on (instance) group_left (db) b > bool 1e3 offset 5m", {"a", "b"}),
        ('absent(redis_up{job="redis"}) unless sum without (db) (c:d:rate5m)', {"redis_up", "c:d:rate5m"}),
    ],
)
def test_metric_names_finds_the_metrics_of_an_expression_and_nothing_else(expr, names):
    assert metric_names(expr) == names


def panel_targets() -> list[tuple[dict, dict]]:
    return [(panel, target) for panel in DASHBOARD["panels"] for target in panel.get("targets", [])]


def dashboard_expressions() -> list[str]:
    """Every PromQL of the dashboard: panel targets and template variables (label_values(expr, label))."""
    exprs = [target["expr"] for _, target in panel_targets()]
    for variable in DASHBOARD["templating"]["list"]:
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        exprs.append(re.fullmatch(r"label_values\((.*),\s*\w+\)", query).group(1))
    return exprs


@pytest.fixture
def exported_names(alice) -> set[str]:
    """The sample names (with _total, _bucket ... suffixes) /metrics serves once the cached
    endpoints have answered a miss and a hit and a write has invalidated."""
    for url in ("/api/review/today/", "/api/review/today/", "/api/analytics/stats/", "/api/content/"):
        assert alice.get(url).status_code == 200, url
    assert alice.post("/api/content/", {"title": "metrics"}).status_code == 201
    response = alice.get("/metrics")
    assert response.status_code == 200
    families = text_string_to_metric_families(response.content.decode())
    names = {sample.name for family in families for sample in family.samples}
    assert {"resee_cache_requests_total", "resee_cache_request_seconds_bucket", "django_db_execute_total"} <= names
    return names


# --- Grafana JSON --------------------------------------------------------------------------------


def test_the_dashboard_has_a_uid_a_title_and_a_current_schema_version():
    assert re.fullmatch(r"[a-z0-9-]{1,40}", DASHBOARD["uid"])
    assert DASHBOARD["title"]
    assert 36 <= DASHBOARD["schemaVersion"] <= 41
    assert DASHBOARD.get("id") is None  # provisioned dashboards get their id from Grafana


def test_panels_have_unique_ids_titles_and_do_not_overlap_on_the_24_column_grid():
    panels = DASHBOARD["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)) and all(isinstance(i, int) for i in ids)
    taken = set()
    for panel in panels:
        assert panel["title"] and panel["type"] in {"timeseries", "stat"}, panel["id"]
        grid = panel["gridPos"]
        assert all(isinstance(grid[key], int) for key in "hwxy") and grid["x"] + grid["w"] <= 24, panel["title"]
        cells = set(product(range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])))
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells


def test_every_panel_queries_prometheus_by_the_provisioned_datasource_uid():
    (datasource,) = DATASOURCES["datasources"]
    expected = {"type": "prometheus", "uid": datasource["uid"]}
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"

    for panel in DASHBOARD["panels"]:
        assert panel["datasource"] == expected, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == expected, panel["title"]
            assert target["expr"].strip() and target["refId"], panel["title"]
    for variable in DASHBOARD["templating"]["list"]:
        assert variable["datasource"] == expected, variable["name"]


def test_the_provider_loads_the_dashboards_directory_mounted_by_compose():
    (provider,) = PROVIDERS["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


def test_the_dashboard_has_the_panels_operations_asked_for():
    exprs = " ".join(dashboard_expressions())
    for name in [
        "endpoint:resee_cache_hit_ratio:ratio_rate5m",
        "instance:redis_keyspace_hit_ratio:ratio_rate5m",
        "endpoint_result:resee_cache_requests:rate5m",
        "endpoint_result:resee_cache_request_seconds:p50_rate5m",
        "endpoint_result:resee_cache_request_seconds:p95_rate5m",
        "endpoint_result:resee_cache_request_seconds:p99_rate5m",
        "job:django_db_execute:per_minute_rate5m",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "instance:redis_evicted_keys:rate5m",
        "redis_connected_clients",
        "redis_db_keys",
    ]:
        assert name in exprs, name


def test_panels_use_the_recording_rules_instead_of_recomputing_them():
    """A ratio, quantile or rate computed in a panel would drift from what the alerts see."""
    for _, target in panel_targets():
        assert not re.search(r"histogram_quantile|rate\(|_bucket\b|_total\b", target["expr"]), target["expr"]


# --- Every name exists ---------------------------------------------------------------------------


def test_every_dashboard_metric_is_recorded_exported_by_the_app_or_by_redis_exporter(exported_names):
    known = RECORDED | exported_names | REDIS_EXPORTER_METRICS
    used = set().union(*(metric_names(expr) for expr in dashboard_expressions()))

    assert used, "no metric names found: the tokenizer is broken"
    assert used - known == set()


def test_every_rule_reads_metrics_the_app_or_redis_exporter_exports_or_other_rules_record(exported_names):
    known = RECORDED | exported_names | REDIS_EXPORTER_METRICS
    used = {rule.get("record") or rule["alert"]: metric_names(rule["expr"]) for rule in RULE_LIST}

    assert all(used.values()), {name: names for name, names in used.items() if not names}
    assert {name: names - known for name, names in used.items() if names - known} == {}


def test_an_unknown_name_in_a_query_would_be_caught(exported_names):
    """The guard above is not vacuous: a plausible but wrong name is not known."""
    known = RECORDED | exported_names | REDIS_EXPORTER_METRICS
    assert metric_names("sum(rate(resee_cache_hits_total[5m]))") - known == {"resee_cache_hits_total"}
    assert metric_names("redis_memory_max") - known == {"redis_memory_max"}
