"""The documentation's figures from a run's JSON: the performance page's tables (report.markdown)
and SVG charts, and the sizing page computed from the measured costs.

The run is the committed one in docs/data/ (`bench-<mode>.json`; a full run is preferred to a
quick one): `make bench` writes bench/results/latest.json, and copying it to
docs/data/bench-full.json is what publishes it. `python -m docsgen` (and the MkDocs hook) call
`write()`; matplotlib comes from requirements-docs.txt.
"""

import io
import json
import re
from pathlib import Path

from bench import report

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "docs" / "data"
GENERATED = REPO / "docs" / "generated"
IMAGES = REPO / "docs" / "img"
MODES = ("limit", "floor", "hit", "miss", "uncached")
PREFERENCE = ("full", "quick")

# The sizing's assumptions, each stated on the page beside the figures it shapes.
REQUESTS_PER_LEARNER_DAY = 150  # a learner reviewing ~60 cards: today reads, answers, stats, content
PEAK_OVER_MEAN = 4.0  # the busiest hour against the day's mean hour
CPU_TARGET = 0.6  # plan cores to run at most 60% busy at the peak
ENTRY_OVERHEAD_BYTES = 1300  # Redis's own bytes per entry beside the body: key, header, allocator
LEARNERS = (10_000, 100_000, 1_000_000)


def write_if_changed(path: Path, content: str | bytes) -> Path:
    """Write `content` unless the file already holds it.

    # Note: a build while tests read the committed pages must never let them see a half-written
    # file, and an unchanged page should not wake `mkdocs serve`."""
    data = content.encode() if isinstance(content, str) else content
    if not path.exists() or path.read_bytes() != data:
        path.write_bytes(data)
    return path


def latest_run() -> tuple[Path, dict] | None:
    """The committed run the docs show: a full one if there is one, else the newest quick one."""
    runs = sorted(DATA.glob("bench-*.json"))
    loaded = [(path, json.loads(path.read_text())) for path in runs]
    for mode in PREFERENCE:
        chosen = [(path, run) for path, run in loaded if run.get("mode") == mode]
        if chosen:
            return chosen[-1]
    return None


def write() -> list[Path]:
    GENERATED.mkdir(parents=True, exist_ok=True)
    found = latest_run()
    if found is None:
        missing = "No bench run is committed yet (docs/data/bench-full.json): run `make bench` and copy it there.\n"
        for name in ("performance.md", "sizing.md"):
            write_if_changed(GENERATED / name, missing)
        return [GENERATED / "performance.md", GENERATED / "sizing.md"]
    path, run = found
    charts = _charts(run)
    source = path.relative_to(REPO).as_posix()
    performance = write_if_changed(GENERATED / "performance.md", performance_page(run, source=source))
    sizing = write_if_changed(GENERATED / "sizing.md", sizing_page(run, source=source))
    return [performance, sizing, *charts]


def performance_page(run: dict, *, source: str) -> str:
    """The run's own report (bench/report.py), headings under the page's, and its charts."""
    body = report.markdown(run).replace(str(REPO) + "/", "")
    body = re.sub(r"^(#+) ", lambda match: "#" + match.group(1) + " ", body, flags=re.MULTILINE)
    mode = run.get("mode")
    note = (
        "A quick run (`make bench-quick`: 40 users, seconds per part) on a shared 2-core machine: its "
        "microseconds move with that machine's load; read its ratios, and replace it with a full run "
        "(`make bench`) when one is made."
        if mode != "full"
        else "A full run (`make bench`)."
    )
    figures = [
        ("The hit path by endpoint", "perf-hit-path.svg", "Median microseconds per request of each mode, in-process."),
        ("The workload", "perf-workload.svg", "Requests per second and hit rate, by cache mode and by server."),
        ("Through a Redis outage", "perf-outage.svg", "Latency of the reads after the first three of each fault."),
    ]
    charts = "\n".join(f"### {title}\n\n![{title}](img/{name})\n\n{caption}\n" for title, name, caption in figures)
    commit = run.get("machine", {}).get("git", "?")
    return f"Source: `{source}` ({mode} run, commit {commit}). {note}\n\n{charts}\n{body}\n"


def _svg(figure, name: str) -> Path:
    IMAGES.mkdir(parents=True, exist_ok=True)
    svg = io.BytesIO()
    figure.savefig(svg, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return write_if_changed(IMAGES / name, svg.getvalue())


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    # Note: a fixed salt and no date make the SVG a function of the JSON alone, so a rebuild
    # leaves the committed charts unchanged.
    matplotlib.rcParams.update({"svg.hashsalt": "resee-docs", "svg.fonttype": "none", "font.size": 9})
    import matplotlib.pyplot as plt

    return plt


def _charts(run: dict) -> list[Path]:
    plt = _pyplot()
    made = []
    for name, draw in (
        ("perf-hit-path.svg", _hit_path_chart),
        ("perf-workload.svg", _workload_chart),
        ("perf-outage.svg", _outage_chart),
    ):
        figure = draw(plt, run)
        if figure is not None:
            made.append(_svg(figure, name))
            plt.close(figure)
    return made


def _hit_path_chart(plt, run: dict):
    hit = run.get("hit_path") or {}
    if not hit:
        return None
    figure, axes = plt.subplots(figsize=(7, 3.2))
    endpoints, width = list(hit), 0.16
    for index, mode in enumerate(MODES):
        values = [hit[endpoint][f"{mode}_us"] for endpoint in endpoints]
        positions = [n + (index - 2) * width for n in range(len(endpoints))]
        axes.bar(positions, values, width, label=mode)
    axes.set_xticks(range(len(endpoints)), endpoints)
    axes.set_yscale("log")
    axes.set_ylabel("median us per request (log)")
    axes.legend(ncols=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, 1.15), frameon=False)
    return figure


def _workload_chart(plt, run: dict):
    workload, servers = run.get("workload") or {}, (run.get("http") or {}).get("servers") or {}
    if not workload and not servers:
        return None
    figure, (left, right) = plt.subplots(1, 2, figsize=(8, 3))
    labels = [*(f"cache {mode.split('_')[1]}" for mode in workload if mode.startswith("cache_"))]
    rows = [workload[mode] for mode in workload if mode.startswith("cache_")]
    labels += list(servers)
    rps = [row["rps"] for row in rows] + [row["workload_rps"] for row in servers.values()]
    rate = [row["hit_rate"] for row in rows] + [row["workload_hit_rate"] for row in servers.values()]
    colours = ["tab:gray"] * len(rows) + ["tab:blue"] * len(servers)
    left.barh(labels, rps, color=colours)
    left.set_xlabel("workload req/s")
    left.invert_yaxis()
    right.barh(labels, [100 * value for value in rate], color=colours)
    right.set_xlabel("hit rate (X-Cache), %")
    right.set_xlim(0, 100)
    right.invert_yaxis()
    right.set_yticks([])
    figure.suptitle("grey: the deployed server with the cache off and on; blue: the servers side by side", fontsize=8)
    return figure


def _outage_chart(plt, run: dict):
    outage = run.get("outage") or {}
    if not outage:
        return None
    figure, axes = plt.subplots(figsize=(6, 2.8))
    faults, width = list(outage), 0.25
    for index, key in enumerate(("p50_ms", "p99_ms", "max_ms")):
        positions = [n + (index - 1) * width for n in range(len(faults))]
        axes.bar(positions, [outage[fault][key] for fault in faults], width, label=key[:-3])
    axes.axhline(report.OUTAGE_P99_MS, color="tab:red", linestyle="--", linewidth=1, label="p99 target")
    labels = [f"{fault}\n(first HIT {outage[fault]['recovery_seconds']} s after)" for fault in faults]
    axes.set_xticks(range(len(faults)), labels)
    axes.set_ylabel("ms per read")
    axes.legend(fontsize=8, frameon=False)
    return figure


def costs(run: dict) -> dict:
    """The measured costs the sizing multiplies: server CPU per request, the hit rate, SQL and Redis
    commands per request, body bytes per entry."""
    http, workload, hit = run.get("http") or {}, run["workload"], run["hit_path"]
    deployed = (http.get("servers") or {}).get(http.get("deployed"), {})
    on, off = workload["cache_on"], workload["cache_off"]
    rate = on["hit_rate"]
    hit_commands = sum(row["hit_redis_round_trips"]["commands"] for row in hit.values()) / len(hit)
    miss_commands = sum(row["miss_redis_round_trips"]["commands"] for row in hit.values()) / len(hit)
    return {
        "cpu_ms_hit": deployed.get("today_hit_cpu_ms_per_request"),
        "cpu_ms_request_on": on["cpu_ms_per_request"],
        "cpu_ms_request_off": off["cpu_ms_per_request"],
        "hit_rate": rate,
        "sql_per_request": on["sql_queries_per_request"],
        "sql_per_request_off": off["sql_queries_per_request"],
        "redis_commands_per_request": rate * hit_commands + (1 - rate) * miss_commands,
        "entry_bytes": {endpoint: row["body_bytes"] + ENTRY_OVERHEAD_BYTES for endpoint, row in hit.items()},
    }


def sizing(run: dict) -> list[dict]:
    """What each number of daily learners needs at its peak hour."""
    measured = costs(run)
    per_learner_bytes = sum(measured["entry_bytes"].values())
    rows = []
    for learners in LEARNERS:
        peak = learners * REQUESTS_PER_LEARNER_DAY / 86_400 * PEAK_OVER_MEAN
        rows.append(
            {
                "learners": learners,
                "peak_rps": peak,
                "app_cores": peak * measured["cpu_ms_request_on"] / 1000 / CPU_TARGET,
                "app_cores_without_cache": peak * measured["cpu_ms_request_off"] / 1000 / CPU_TARGET,
                "redis_ops": peak * measured["redis_commands_per_request"],
                "redis_mb": learners * per_learner_bytes / 2**20,
                "sql_qps": peak * measured["sql_per_request"],
                "sql_qps_without_cache": peak * measured["sql_per_request_off"],
            }
        )
    return rows


def _row(*cells) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _measured_rows(measured: dict) -> list[str]:
    hit_cpu = measured["cpu_ms_hit"]
    sql = f"{measured['sql_per_request']:.2f} / {measured['sql_per_request_off']:.2f}"
    return [
        _row("measured (from the run)", "value"),
        "|---|---|",
        _row("server CPU per served today hit (deployed server)", "-" if hit_cpu is None else f"{hit_cpu:.2f} ms"),
        _row(
            "server CPU per request of the workload, cache on (hits, misses, writes and their refresh)",
            f"{measured['cpu_ms_request_on']:.2f} ms",
        ),
        _row(
            "server CPU per request of the workload, cache off (every read computed)",
            f"{measured['cpu_ms_request_off']:.2f} ms",
        ),
        _row("hit rate of the workload (`X-Cache`)", f"{measured['hit_rate']:.1%}"),
        _row("SQL statements per request, cache on / off", sql),
        _row("Redis commands per request (hit and miss at that rate)", f"{measured['redis_commands_per_request']:.1f}"),
        *(
            _row(f"bytes per {endpoint} entry (body + {ENTRY_OVERHEAD_BYTES:,} assumed overhead)", f"{size:,}")
            for endpoint, size in measured["entry_bytes"].items()
        ),
    ]


def _sizing_rows(run: dict) -> list[str]:
    header = ("daily learners", "peak req/s", "app cores (cache off)", "Redis memory", "Redis ops/s")
    rows = [_row(*header, "PostgreSQL queries/s (cache off)"), "|---|---|---|---|---|---|"]
    for row in sizing(run):
        rows.append(
            _row(
                f"{row['learners']:,}",
                f"{row['peak_rps']:,.0f}",
                f"{row['app_cores']:,.1f} ({row['app_cores_without_cache']:,.1f})",
                f"{row['redis_mb']:,.0f} MB",
                f"{row['redis_ops']:,.0f}",
                f"{row['sql_qps']:,.0f} ({row['sql_qps_without_cache']:,.0f})",
            )
        )
    return rows


def sizing_page(run: dict, *, source: str) -> str:
    assumptions = [
        f"- a daily learner makes {REQUESTS_PER_LEARNER_DAY} requests a day in the bench's workload mix "
        f"({', '.join(f'{k} {v:.0%}' for k, v in run['workload_meta']['mix'].items())});",
        f"- the busiest hour carries {PEAK_OVER_MEAN:g}x the day's mean hourly rate;",
        f"- app cores are planned {CPU_TARGET:.0%} busy at that peak, with the CPU per request measured "
        f"on the bench's machine ({run['machine']['nproc']} x {run['machine']['cpu_model']});",
        f"- every daily learner holds one entry of each cached endpoint at once (an upper bound: entries "
        f"live 5 minutes to an hour), each its body plus {ENTRY_OVERHEAD_BYTES:,} bytes of key, header and "
        "allocator; namespace tokens, revocation hashes and throttle counters are left out (tens of bytes each);",
        "- writes are not costed on their own: they are 10% of the mix and their CPU, SQL and refresh are "
        "inside the workload's per-request figures.",
    ]
    return (
        f"Source: `{source}` ({run.get('mode')} run, commit {run['machine'].get('git', '?')}).\n\n"
        + "\n".join(_measured_rows(costs(run)))
        + "\n\nAssumptions:\n\n"
        + "\n".join(assumptions)
        + "\n\n"
        + "\n".join(_sizing_rows(run))
        + "\n"
    )
