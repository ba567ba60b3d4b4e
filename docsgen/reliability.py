"""The reliability page's figures from the last chaos run: `make chaos` writes var/chaos/report.json
and var/chaos/timeline.svg (its own report code draws the timeline); copying them to
docs/data/chaos-report.json and docs/img/chaos-timeline.svg publishes them. Until then the page
says the run has not been made."""

import json
from pathlib import Path

from docsgen.figures import write_if_changed

REPO = Path(__file__).resolve().parent.parent
REPORT = REPO / "docs" / "data" / "chaos-report.json"
TIMELINE = REPO / "docs" / "img" / "chaos-timeline.svg"
OUT = REPO / "docs" / "generated" / "chaos.md"

NOT_YET = """The chaos run has not yet run for these pages: no `docs/data/chaos-report.json` is committed.
`make chaos` writes `var/chaos/report.json` and `var/chaos/timeline.svg`; copy them to
`docs/data/chaos-report.json` and `docs/img/chaos-timeline.svg` to publish them here.
"""


def write() -> list[Path]:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    page = render(json.loads(REPORT.read_text())) if REPORT.exists() else NOT_YET
    return [write_if_changed(OUT, page)]


def render(summary: dict) -> str:
    latency = summary.get("latency_ms", {})
    lines = [
        f"Source: `docs/data/chaos-report.json`: seed {summary.get('seed')}, {summary.get('operations')} operations "
        f"by {summary.get('clients')} clients over {summary.get('seconds')} s; latency p50 {latency.get('p50')} ms, "
        f"p99 {latency.get('p99')} ms. Rerun it with `python -m chaos --seed {summary.get('seed')}`.",
        "",
    ]
    if TIMELINE.exists():
        lines += ["![The chaos run's timeline](img/chaos-timeline.svg)", ""]
    lines += ["| fault | count | first HIT after (s), max | first write after (s), max |", "|---|---|---|---|"]
    for kind, count in sorted(summary.get("faults", {}).items()):
        hit = summary.get("recovery_seconds", {}).get(kind) or []
        write = summary.get("recovery_write_seconds", {}).get(kind) or []
        lines.append(f"| {kind} | {count} | {max(hit) if hit else '-'} | {max(write) if write else '-'} |")
    lines += ["", "| anomaly | count |", "|---|---|"]
    lines += [f"| {name} | {count} |" for name, count in summary.get("anomalies", {}).items()]
    outcomes = ", ".join(f"{name} {count}" for name, count in summary.get("outcomes", {}).items())
    cache = ", ".join(f"{name} {count}" for name, count in summary.get("x_cache", {}).items())
    lines += ["", f"Outcomes: {outcomes}. `X-Cache`: {cache}.", ""]
    return "\n".join(lines)
