"""The bench's report: the workload's title says over which learners it ran, and each scheduler's
learners' hit rate is shown and checked, when the run has them."""

from bench import report

WORKLOAD = {"cache_on": {
    "rps": 100.0, "hit_rate": 0.9, "sql_queries_per_min": 60, "sql_queries_per_request": 0.1, "p50_ms": 5.0,
    "p99_ms": 20.0, "cpu_ms_per_request": 3.0, "wrk_cpu_ms_per_request": 1.0, "client_errors": 0,
    "server_errors": 0, "socket_errors": 0,
}}  # fmt: skip
META = {"server": "uwsgi", "workers": 2, "connections": 8, "zipf_s": 1.1, "users": 40,
        "mix": {"today": 1.0}, "warmup": 1.0, "duration": 5.0}  # fmt: skip


def _title(meta: dict) -> str:
    return "\n".join(report._workload_lines({"workload": WORKLOAD, "workload_meta": meta}))


def test_the_workload_title_names_the_learners_time_zones_and_limits():
    learners = {"zones": ["Pacific/Kiritimati", "UTC"], "day_start_hours": [4], "reviews_per_day": [30, 200]}
    assert "40 users in 2 time zones with daily limits [30, 200]," in _title({**META, "learners": learners})


def test_a_run_from_before_the_learners_were_recorded_still_reports_its_workload():
    assert "Zipf(1.1) over 40 users, mix" in _title(META)


def test_the_workload_table_and_targets_give_each_schedulers_learners_hit_rate():
    on = {**WORKLOAD["cache_on"], "hit_rate_by_scheduler": {"ladder": 0.93, "fsrs": 0.84}}
    off = {**WORKLOAD["cache_on"], "hit_rate": 0.0}  # cache off: X-Cache BYPASS, no groups to show
    learners = {
        "zones": ["UTC"],
        "day_start_hours": [4],
        "reviews_per_day": [200],
        "schedulers": {"fsrs": 20, "ladder": 20},
    }
    run = {"workload": {"cache_on": on, "cache_off": off}, "workload_meta": {**META, "learners": learners}}

    table = "\n".join(report._workload_lines(run))
    targets = {t["name"]: t for t in report._workload_targets(run["workload"])}

    assert "20 on ladder, 20 on fsrs," in table
    assert "| hit rate (X-Cache) | ladder learners' hit rate | fsrs learners' hit rate |" in table
    assert "| cache_on | 100 | 90.0% | 93.0% | 84.0% |" in table
    assert targets["hit rate (workload, ladder learners)"]["met"]
    assert not targets["hit rate (workload, fsrs learners)"]["met"]
    assert targets["hit rate (workload, fsrs learners)"]["note"] == "short by 1.0 points"


def test_a_run_without_schedulers_has_neither_their_columns_nor_their_targets():
    run = {"workload": {"cache_on": WORKLOAD["cache_on"], "cache_off": WORKLOAD["cache_on"]}, "workload_meta": META}

    assert "learners' hit rate" not in "\n".join(report._workload_lines(run))
    assert [t["name"] for t in report._workload_targets(run["workload"])] == ["hit rate (workload)"]
