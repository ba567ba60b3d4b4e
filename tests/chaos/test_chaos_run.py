"""chaos.run, CI's short version: the app as deployed under every fault kind once, on a fixed
seed; any anomaly fails (the report's windows show it; `python -m chaos --seed 11` reruns it)."""

import pytest

from chaos.faults import KINDS
from tests.servers import chaos_run

pytestmark = pytest.mark.integration


def test_a_short_run_with_every_fault_finds_no_anomaly(tmp_path):
    summary = chaos_run(tmp_path, seed=11, operations=1500, clients=4, users=2, fault_kinds=KINDS, rounds=1)

    assert set(summary["faults"]) == set(KINDS)
    assert summary["anomalies"] == dict.fromkeys(summary["anomalies"], 0), summary["anomalous_operations"]
