"""The reliability page's figures from the last chaos run in each Redis mode, and the last soak
(a run of many more operations): `make chaos` writes var/chaos/report.json and
var/chaos/timeline.svg (its own report code draws the timeline); copying them to
docs/data/chaos-RUN.json and docs/img/chaos-RUN.svg publishes them, RUN being the run's Redis mode
or `soak`. A run not published is left out; with none, the page says the run has not been made."""

import json
from pathlib import Path

from docsgen.figures import write_if_changed

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "docs" / "data"
IMG = REPO / "docs" / "img"
OUT = REPO / "docs" / "generated" / "chaos.md"
RUNS = ("standalone", "sentinel", "cluster", "soak")

NOT_YET = """The chaos run has not yet run for these pages: no `docs/data/chaos-RUN.json` is committed.
`make chaos` writes `var/chaos/report.json` and `var/chaos/timeline.svg`; copy them to
`docs/data/chaos-RUN.json` and `docs/img/chaos-RUN.svg` (RUN: the run's `--redis-mode`, or `soak`)
to publish them here.
"""


def write() -> list[Path]:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    reports = {run: DATA / f"chaos-{run}.json" for run in RUNS}
    published = [(run, json.loads(report.read_text())) for run, report in reports.items() if report.exists()]
    page = "\n".join(render(summary, run) for run, summary in published) if published else NOT_YET
    return [write_if_changed(OUT, page)]


def render(summary: dict, run: str | None = None) -> str:
    mode = summary.get("redis_mode", "standalone")
    run = run or mode
    latency, operations = summary.get("latency_ms", {}), summary.get("operations")
    soak = run == "soak"
    # Note: a report from before the rerun was recorded, and the figures' own count, repeat it nearly.
    rerun = summary.get("rerun") or f"python -m chaos --seed {summary.get('seed')} --redis-mode {mode}" + (
        f" --operations {operations}" if soak else ""
    )
    lines = [
        f"### Soak, Redis {mode}" if soak else f"### Redis {mode}",
        "",
        f"Source: `docs/data/chaos-{run}.json`: seed {summary.get('seed')}, {operations} operations "
        f"by {summary.get('clients')} clients over {summary.get('seconds')} s; latency p50 {latency.get('p50')} ms, "
        f"p99 {latency.get('p99')} ms. Rerun it with `{rerun}`.",
        "",
    ]
    if (IMG / f"chaos-{run}.svg").exists():
        lines += [f"![The chaos run's timeline, {run}](img/chaos-{run}.svg)", ""]
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
