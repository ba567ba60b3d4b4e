"""The performance and sizing pages follow from a run's JSON, and the committed pages from the
committed run."""

import json

import pytest

from docsgen import figures
from tests.helpers import docs_tool

RUN = {
    "mode": "quick",
    "machine": {"nproc": 2, "cpu_model": "AMD EPYC", "git": "abc1234"},
    "hit_path": {
        endpoint: {
            "body_bytes": 1000,
            "hit_redis_round_trips": {"commands": 7.0},
            "miss_redis_round_trips": {"commands": 11.0},
        }
        for endpoint in ("today", "stats", "content")
    },
    "http": {"deployed": "uwsgi", "servers": {"uwsgi": {"today_hit_cpu_ms_per_request": 2.0}}},
    "workload_meta": {"mix": {"today": 0.9, "complete": 0.1}},
    "workload": {
        "cache_on": {"cpu_ms_per_request": 6.0, "hit_rate": 0.75, "sql_queries_per_request": 1.0},
        "cache_off": {"cpu_ms_per_request": 12.0, "hit_rate": 0.0, "sql_queries_per_request": 4.0},
    },
}


def test_sizing_multiplies_the_measured_costs_by_the_peak_rate():
    small, _, large = figures.sizing(RUN)
    peak = 10_000 * figures.REQUESTS_PER_LEARNER_DAY / 86_400 * figures.PEAK_OVER_MEAN
    assert small["peak_rps"] == pytest.approx(peak)
    assert small["app_cores"] == pytest.approx(peak * 6.0 / 1000 / figures.CPU_TARGET)
    assert small["app_cores_without_cache"] == pytest.approx(2 * small["app_cores"])
    assert small["sql_qps"] == pytest.approx(peak * 1.0)
    assert small["redis_ops"] == pytest.approx(peak * (0.75 * 7 + 0.25 * 11))
    assert large["redis_mb"] == pytest.approx(100 * small["redis_mb"])


def test_the_sizing_page_states_its_assumptions_and_its_source():
    page = figures.sizing_page(RUN, source="docs/data/bench-quick.json")
    assert "docs/data/bench-quick.json" in page and "Assumptions:" in page
    assert f"{figures.REQUESTS_PER_LEARNER_DAY} requests a day" in page
    assert "| 1,000,000 |" in page


def test_a_full_run_is_shown_before_a_quick_one(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "DATA", tmp_path)
    (tmp_path / "bench-full.json").write_text(json.dumps({"mode": "full"}))
    (tmp_path / "bench-quick.json").write_text(json.dumps({"mode": "quick"}))
    assert figures.latest_run()[0].name == "bench-full.json"


def test_the_committed_pages_are_what_the_committed_run_gives():
    path, run = figures.latest_run()
    source = path.relative_to(figures.REPO).as_posix()
    assert (figures.GENERATED / "performance.md").read_text() == figures.performance_page(run, source=source)
    assert (figures.GENERATED / "sizing.md").read_text() == figures.sizing_page(run, source=source)


def test_the_charts_are_svg_made_from_the_run(tmp_path, monkeypatch):
    docs_tool("matplotlib")
    path, run = figures.latest_run()
    monkeypatch.setattr(figures, "IMAGES", tmp_path)
    made = figures._charts(run)
    assert [chart.name for chart in made] == ["perf-hit-path.svg", "perf-workload.svg", "perf-outage.svg"]
    assert all(chart.read_text().lstrip().startswith("<?xml") for chart in made)
