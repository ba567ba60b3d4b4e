"""The reliability page's figures from the last chaos run in each Redis mode: `make chaos` writes
var/chaos/report.json and var/chaos/timeline.svg (its own report code draws the timeline);
copying them to docs/data/chaos-MODE.json and docs/img/chaos-MODE.svg publishes them. A mode
without a published run is left out; with none, the page says the run has not been made."""

import json
from pathlib import Path

from docsgen.figures import write_if_changed

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "docs" / "data"
IMG = REPO / "docs" / "img"
OUT = REPO / "docs" / "generated" / "chaos.md"
MODES = ("standalone", "sentinel", "cluster")

NOT_YET = """The chaos run has not yet run for these pages: no `docs/data/chaos-MODE.json` is committed.
`make chaos` writes `var/chaos/report.json` and `var/chaos/timeline.svg`; copy them to
`docs/data/chaos-MODE.json` and `docs/img/chaos-MODE.svg` (MODE: the run's `--redis-mode`) to
publish them here.
"""


def write() -> list[Path]:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    published = [json.loads(report.read_text()) for mode in MODES if (report := DATA / f"chaos-{mode}.json").exists()]
    page = "\n".join(render(summary) for summary in published) if published else NOT_YET
    return [write_if_changed(OUT, page)]


def render(summary: dict) -> str:
    mode = summary.get("redis_mode", "standalone")
    latency = summary.get("latency_ms", {})
    lines = [
        f"### Redis {mode}",
        "",
        f"Source: `docs/data/chaos-{mode}.json`: seed {summary.get('seed')}, {summary.get('operations')} operations "
        f"by {summary.get('clients')} clients over {summary.get('seconds')} s; latency p50 {latency.get('p50')} ms, "
        f"p99 {latency.get('p99')} ms. Rerun it with `python -m chaos --seed {summary.get('seed')} "
        f"--redis-mode {mode}`.",
        "",
    ]
    if (IMG / f"chaos-{mode}.svg").exists():
        lines += [f"![The chaos run's timeline, Redis {mode}](img/chaos-{mode}.svg)", ""]
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
