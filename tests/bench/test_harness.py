"""The benchmark harness (bench/) runs end to end on tiny sizes and writes every figure it promises.

It runs `python -m bench --tiny` in a subprocess, as `make bench-quick` does (the bench needs a
non-test process: DEBUG off, its own SECRET_KEY, settings and databases), against whatever this
process has: the real PostgreSQL / Redis of DATABASE_URL / REDIS_URL, else SQLite and fakeredis
(the parts over HTTP then use a private redis-server, and are skipped without one or without
wrk). Sizes: 3 users x 5 contents, one 1 s round per server side by side, a 1.5 s workload per
mode on the deployed server's 2 workers, invalidation with 100 and 1,000 entries. Only targets
that hold on any machine are asserted (no SQL and one Redis round trip per hit, some hits); the
timing targets are the bench's to report, not this test's.
"""

import json
import math
import os
import subprocess
import sys

import pytest
from django.conf import settings

from tests.servers import require_binary

REQUIRED_HIT_FIELDS = ("limit_us", "floor_us", "hit_us", "uncached_us", "hit_sql_queries")
REQUIRED_WORKLOAD_FIELDS = ("rps", "sql_queries_per_min", "p99_ms", "cpu_ms_per_request")


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    work = tmp_path_factory.mktemp("bench")
    out = work / "latest.json"
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["BENCH_REDIS_NAMESPACE"] = f"{settings.REDIS_KEY_NAMESPACE}-bench"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--tiny",
            "--quiet",
            "--drop-template",
            "--json",
            str(out),
            "--results-dir",
            str(work / "results"),
            "--work-dir",
            str(work),
        ],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, f"stdout:\n{completed.stdout[-3000:]}\nstderr:\n{completed.stderr[-5000:]}"
    return {"json": json.loads(out.read_text()), "stdout": completed.stdout, "work": work}


def positive(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def test_the_backends_are_the_ones_this_process_has(results):
    data = results["json"]
    assert data["redis"] == ("embedded" if settings.REDIS_EMBEDDED else "real")
    expected = "postgresql" if settings.DATABASES["default"]["ENGINE"].endswith("postgresql") else "sqlite"
    assert data["database"] == expected
    assert data["mode"] == "tiny"


def test_every_hit_path_figure_is_there_and_a_hit_runs_no_sql(results):
    hit = results["json"]["hit_path"]
    assert set(hit) == {"today", "stats", "content"}
    for endpoint, row in hit.items():
        for field in REQUIRED_HIT_FIELDS:
            assert field in row, (endpoint, field)
        for field in ("limit_us", "floor_us", "hit_us", "uncached_us", "miss_us"):
            assert positive(row[field]), (endpoint, field, row[field])
        assert row["hit_sql_queries"] == 0
        assert row["uncached_sql_queries"] >= 1
        assert row["hit_redis_round_trips"]["total"] == 1  # revocation, throttle and lookup together
        assert row["limit_redis_round_trips"]["total"] == 1  # the limit replays that one round trip
        for ratio in ("hit_over_limit", "hit_over_floor", "uncached_over_hit"):
            assert positive(row[ratio]), (endpoint, ratio)
        assert row["hit_over_floor"] == pytest.approx(row["hit_us"] / row["floor_us"], rel=0.01)
    assert hit["today"]["items"] >= 1


def test_the_workload_ran_both_modes_and_the_cache_served_hits(results):
    require_binary("wrk")
    if settings.REDIS_EMBEDDED:
        require_binary("redis-server")  # the workload's shared Redis; without it the bench skips it
    workload = results["json"]["workload"]
    on, off = workload["cache_on"], workload["cache_off"]
    for row in (on, off):
        for field in REQUIRED_WORKLOAD_FIELDS:
            assert positive(row[field]), field
        assert row["requests"] > 0 and row["server_errors"] == 0
    assert off["hit_rate"] == 0
    assert off["x_cache"]["BYPASS"] > 0 and off["x_cache"]["HIT"] == 0
    assert 0 < on["hit_rate"] <= 1
    assert on["cache_results"].get("hit", 0) > 0  # /metrics, every worker added up, saw the hits too
    # A hit runs no SQL, so the cached reads together need fewer queries than uncached ones.
    assert on["sql_queries_per_request"] < off["sql_queries_per_request"]
    assert "sql_reduction_per_request" in workload
    learners = results["json"]["workload_meta"]["learners"]  # seed_demo's users, each in a zone of their own
    assert (len(learners["zones"]), learners["reviews_per_day"]) == (3, [200])
    assert learners["schedulers"] == {"fsrs": 1, "ladder": 2}


def test_the_workload_counted_each_schedulers_learners_hits_apart(results):
    require_binary("wrk")
    if settings.REDIS_EMBEDDED:
        require_binary("redis-server")
    on = results["json"]["workload"]["cache_on"]
    by_scheduler = on["x_cache_by_scheduler"]
    assert set(by_scheduler) == set(on["hit_rate_by_scheduler"]) == {"ladder", "fsrs"}
    for name in ("HIT", "MISS"):  # a wrk thread per scheduler: its counts add up to the whole
        assert by_scheduler["ladder"][name] + by_scheduler["fsrs"][name] == on["x_cache"][name]
    assert all(0 < rate <= 1 for rate in on["hit_rate_by_scheduler"].values())
    assert "hit rate (workload, fsrs learners)" in {target["name"] for target in results["json"]["targets"]}


def test_the_app_servers_were_measured_side_by_side_over_http(results):
    require_binary("wrk")
    if settings.REDIS_EMBEDDED:
        require_binary("redis-server")  # the servers' shared Redis
    http = results["json"]["http"]
    assert (http["baseline"], http["deployed"]) == ("gunicorn-gthread", "uwsgi")
    assert set(http["servers"]) == {"gunicorn-gthread", "gunicorn-sync", "granian", "uwsgi"}
    for name, row in http["servers"].items():
        for field in ("today_hit_rps", "notfound_rps", "workload_rps", "workload_p99_ms", "cpu_ms_per_request"):
            assert positive(row[field]), (name, field, row[field])
        assert row["today_hit_rate"] > 0.9, name  # the served today reads were hits
        assert row["server_errors"] == 0, name
    assert http["over_baseline"]["gunicorn-gthread"] == {"today_hit": 1.0, "workload": 1.0}
    names = " ".join(target["name"] for target in results["json"]["targets"])
    assert "served today hits over HTTP, uwsgi / gunicorn-gthread" in names
    assert "### Servers over HTTP, side by side" in results["stdout"]


def test_an_anki_import_with_history_was_timed_end_to_end(results):
    imported = results["json"]["revlog_import"]
    assert (imported["state"], imported["cards"], imported["reviews"]) == ("succeeded", 50, 500)
    assert positive(imported["per_second"])
    assert "### Anki import with history" in results["stdout"]


def test_invalidation_was_timed_at_each_size(results):
    data = results["json"]
    assert set(data["invalidation_us"]) == {"100", "1000"}
    assert all(positive(value) for value in data["invalidation_us"].values())


def test_the_targets_the_profile_and_the_table_are_reported(results):
    data = results["json"]
    names = " ".join(target["name"] for target in data["targets"])
    parts = ["hit / limit", "hit / floor", "uncached / hit", "Redis round trips per hit", "SQL queries per hit"]
    if "workload_skipped" in data:
        assert f"### Workload over HTTP: skipped ({data['workload_skipped']})" in results["stdout"]
    else:
        parts.append("hit rate")
    for part in parts:
        assert part in names
    assert all(isinstance(target["met"], bool) for target in data["targets"])
    breakdown = data["profile"]["today"]["breakdown"]
    assert breakdown[0]["part"] == "whole request" and breakdown[0]["us_per_request"] > 0
    assert any(row["part"].startswith("project: ") for row in breakdown)  # the app's own code, by folder
    assert (results["work"] / "results" / "profile-hit-today-cprofile.txt").exists()
    assert "### Targets" in results["stdout"] and "| today" in results["stdout"]
