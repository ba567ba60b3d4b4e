"""The bench's report: the workload's title says over which learners it ran, when the run says."""

from bench import report

WORKLOAD = {"cache_on": {
    "rps": 100.0, "hit_rate": 0.9, "sql_queries_per_min": 60, "sql_queries_per_request": 0.1, "p50_ms": 5.0,
    "p99_ms": 20.0, "cpu_ms_per_request": 3.0, "wrk_cpu_ms_per_request": 1.0, "client_errors": 0,
    "server_errors": 0, "socket_errors": 0,
}}  # fmt: skip
META = {"server": "granian", "workers": 2, "connections": 8, "zipf_s": 1.1, "users": 40,
        "mix": {"today": 1.0}, "warmup": 1.0, "duration": 5.0}  # fmt: skip


def _title(meta: dict) -> str:
    return "\n".join(report._workload_lines({"workload": WORKLOAD, "workload_meta": meta}))


def test_the_workload_title_names_the_learners_time_zones_and_limits():
    learners = {"zones": ["Pacific/Kiritimati", "UTC"], "day_start_hours": [4], "reviews_per_day": [30, 200]}
    assert "40 users in 2 time zones with daily limits [30, 200]," in _title({**META, "learners": learners})


def test_a_run_from_before_the_learners_were_recorded_still_reports_its_workload():
    assert "Zipf(1.1) over 40 users, mix" in _title(META)
