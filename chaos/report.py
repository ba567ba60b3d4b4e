"""The chaos run's report: report.json, a printed table, timeline.svg, and for each anomaly the
seed and the shortest window of the history that shows it."""

import json
from collections import Counter
from pathlib import Path

from chaos.checker import ANOMALIES

WINDOW_LINES = 12


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))] if ordered else 0.0


def outcome(op: dict) -> str:
    if op["s"] is None:
        return "error"
    return "2xx" if op["s"] < 300 else "4xx" if op["s"] < 500 else "5xx"


def window(history: list[dict], found: dict) -> list[str]:
    """The learner's operations from the write that set the fact to the read that missed it."""
    end = found["op"] if found["op"] >= 0 else len(history) - 1
    start = found["cause"] if found["cause"] is not None else end
    ops = [op for op in history[start : end + 1] if op["u"] == found["user"]]
    if len(ops) > WINDOW_LINES:
        ops = ops[: WINDOW_LINES // 2] + ops[-WINDOW_LINES // 2 :]
    return [f"  #{op['i']} t={op['t0']:.3f}..{op['t1']:.3f} {op['k']} {json.dumps(op['a'])} -> {op['s']} {op['x'] or ''} "
            f"{json.dumps(op['r'])[:160]}" for op in ops]  # fmt: skip


def write(out: Path, *, seed: int, clients: int, history: list[dict], faults: list[dict], result: dict,
          seconds: float, mutant: str | None = None) -> dict:  # fmt: skip
    found = result["anomalies"]
    summary = {
        "seed": seed,
        "operations": len(history),
        "clients": clients,
        "seconds": round(seconds, 1),
        "mutant": mutant,
        "faults": dict(Counter(f["kind"] for f in faults)),
        "anomalies": {name: len(found[name]) for name in ANOMALIES},
        "recovery_seconds": result["recovery"]["hit"],
        "recovery_write_seconds": result["recovery"]["write"],
        "outcomes": dict(Counter(outcome(op) for op in history)),
        "x_cache": dict(Counter(op["x"] for op in history if op["x"])),
        "latency_ms": {f"p{q}": round(1000 * percentile([op["t1"] - op["t0"] for op in history], q), 1) for q in (50, 99)},
        "anomalous_operations": {name: found[name][:200] for name in ANOMALIES if found[name]},
        "fault_log": faults,
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    (out / "timeline.svg").write_text(timeline(history, faults))
    print(table(summary))
    for name in ANOMALIES:
        for one in found[name][:3]:
            print(f"\n{name} (seed {seed}, rerun: python -m chaos --seed {seed}): {one['why']}")
            print("\n".join(window(history, one)))
    return summary


def table(summary: dict) -> str:
    lines = [f"chaos run: seed {summary['seed']}, {summary['operations']} operations, {summary['clients']} clients, "
             f"{summary['seconds']} s; latency p50 {summary['latency_ms']['p50']} ms, p99 {summary['latency_ms']['p99']} ms",
             f"outcomes {summary['outcomes']}  X-Cache {summary['x_cache']}", "",
             f"{'fault':<16}{'count':>6}  {'first HIT after (s)':<28}{'first write after (s)':<28}"]  # fmt: skip
    for kind, count in sorted(summary["faults"].items()):
        hit = summary["recovery_seconds"].get(kind, [])
        write = summary["recovery_write_seconds"].get(kind, [])
        lines.append(f"{kind:<16}{count:>6}  {_spread(hit):<28}{_spread(write):<28}")
    lines += ["", f"{'anomaly':<18}{'count':>6}"]
    lines += [f"{name:<18}{count:>6}" for name, count in summary["anomalies"].items()]
    return "\n".join(lines)


def _spread(values: list[float]) -> str:
    return f"max {max(values):.2f}, median {percentile(values, 50):.2f}" if values else "-"


def timeline(history: list[dict], faults: list[dict], width: int = 1000, height: int = 420) -> str:
    """Operations by outcome per second (stacked bars), faults shaded and named, and the p50 and
    p99 latency per second (lines, right-hand scale). Plain SVG: no plotting package needed."""
    if not history:
        return "<svg xmlns='http://www.w3.org/2000/svg'/>"
    t0 = history[0]["t0"]
    span = max(1.0, max(op["t1"] for op in history) - t0)
    seconds = int(span) + 1
    colours = {"2xx": "#4c9a2a", "4xx": "#e0a800", "5xx": "#c62828", "error": "#6a1b9a"}
    buckets = [Counter() for _ in range(seconds)]
    latencies = [[] for _ in range(seconds)]
    for op in history:
        second = int(op["t0"] - t0)
        buckets[second][outcome(op)] += 1
        latencies[second].append(1000 * (op["t1"] - op["t0"]))
    top = max(1, max(sum(b.values()) for b in buckets))
    slowest = max(1.0, max(percentile(values, 99) for values in latencies if values))
    plot_h, x_of = height - 60, lambda t: 50 + (width - 100) * t / span

    def y_of(value: float, scale: float) -> float:
        return 20 + plot_h * (1 - value / scale)

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-family='sans-serif' font-size='10'>"]
    for fault in faults:
        x0, x1 = x_of(fault["start"] - t0), x_of(fault["end"] - t0)
        parts.append(f"<rect x='{x0:.1f}' y='20' width='{max(1.0, x1 - x0):.1f}' height='{plot_h}' fill='#90a4ae' opacity='0.35'><title>{fault['kind']}</title></rect>")
        parts.append(f"<text x='{x0:.1f}' y='16' transform='rotate(-30 {x0:.1f} 16)'>{fault['kind']}</text>")
    bar = (width - 100) / seconds
    for second, counts in enumerate(buckets):
        y = 20 + plot_h
        for name, colour in colours.items():
            h = plot_h * counts[name] / top
            if h:
                y -= h
                parts.append(f"<rect x='{50 + second * bar:.1f}' y='{y:.1f}' width='{max(0.5, bar - 0.5):.1f}' height='{h:.1f}' fill='{colour}'/>")
    for q, colour in ((50, "#1565c0"), (99, "#000000")):
        points = " ".join(f"{50 + (s + 0.5) * bar:.1f},{y_of(percentile(v, q), slowest):.1f}" for s, v in enumerate(latencies) if v)
        parts.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1'/>")
    parts.append(f"<text x='5' y='{height - 25}'>0 s</text><text x='{width - 60}' y='{height - 25}'>{span:.0f} s</text>")
    parts.append(f"<text x='5' y='30'>{top} ops/s</text><text x='{width - 48}' y='30'>{slowest:.0f} ms</text>")
    legend = [*colours.items(), ("p50 latency", "#1565c0"), ("p99 latency", "#000000"), ("fault", "#90a4ae")]
    for n, (name, colour) in enumerate(legend):
        parts.append(f"<rect x='{60 + n * 110}' y='{height - 14}' width='10' height='10' fill='{colour}'/><text x='{74 + n * 110}' y='{height - 5}'>{name}</text>")
    parts.append("</svg>")
    return "\n".join(parts)
