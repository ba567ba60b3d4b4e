"""The reliability page shows the last published chaos run of each Redis mode, or says it has not run."""

from docsgen import reliability

SUMMARY = {
    "seed": 7,
    "redis_mode": "sentinel",
    "operations": 1200,
    "clients": 8,
    "seconds": 60.0,
    "faults": {"redis_kill": 2},
    "anomalies": {"stale_read": 0, "lost_write": 0},
    "recovery_seconds": {"redis_kill": [0.4, 1.2]},
    "recovery_write_seconds": {"redis_kill": [0.1]},
    "outcomes": {"2xx": 1190, "5xx": 10},
    "x_cache": {"HIT": 900},
    "latency_ms": {"p50": 12.0, "p99": 80.0},
}


def test_without_a_published_run_the_page_says_it_has_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(reliability, "DATA", tmp_path)
    monkeypatch.setattr(reliability, "OUT", tmp_path / "chaos.md")
    reliability.write()
    assert "has not yet run" in (tmp_path / "chaos.md").read_text()


def test_a_published_run_gives_its_faults_recoveries_and_anomalies():
    page = reliability.render(SUMMARY)
    assert "| redis_kill | 2 | 1.2 | 0.1 |" in page
    assert "| stale_read | 0 |" in page
    assert "python -m chaos --seed 7 --redis-mode sentinel" in page
    assert page.startswith("### Redis sentinel")


def test_a_published_soak_is_its_own_section_with_its_operations_in_the_rerun():
    page = reliability.render({**SUMMARY, "redis_mode": "standalone", "operations": 200000}, "soak")
    assert page.startswith("### Soak, Redis standalone")
    assert "docs/data/chaos-soak.json" in page
    assert "--redis-mode standalone --operations 200000`" in page


def test_a_run_that_recorded_its_rerun_is_repeated_by_it():
    rerun = "python -m chaos --seed 5 --operations 200000 --clients 8 --redis-mode standalone --faults 'pg_stop'"
    page = reliability.render({**SUMMARY, "redis_mode": "standalone", "operations": 200105, "rerun": rerun}, "soak")
    assert f"Rerun it with `{rerun}`." in page
