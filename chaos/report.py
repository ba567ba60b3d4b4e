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
    return [
        f"  #{op['i']} t={op['t0']:.3f}..{op['t1']:.3f} {op['k']} {json.dumps(op['a'])} -> {op['s']} "
        f"{op['x'] or ''} {json.dumps(op['r'])[:160]}"
        for op in ops
    ]


def write(out: Path, *, seed: int, clients: int, history: list[dict], faults: list[dict], result: dict,
          seconds: float, mutant: str | None = None, redis_mode: str = "standalone",
          rerun: str = "") -> dict:  # fmt: skip
    found = result["anomalies"]
    summary = {
        "seed": seed,
        "rerun": f"python -m chaos {rerun or f'--seed {seed}'}",
        "operations": len(history),
        "clients": clients,
        "redis_mode": redis_mode,
        "seconds": round(seconds, 1),
        "mutant": mutant,
        "faults": dict(Counter(f["kind"] for f in faults)),
        "anomalies": {name: len(found[name]) for name in ANOMALIES},
        "recovery_seconds": result["recovery"]["hit"],
        "recovery_write_seconds": result["recovery"]["write"],
        "outcomes": dict(Counter(outcome(op) for op in history)),
        "x_cache": dict(Counter(op["x"] for op in history if op["x"])),
        "latency_ms": {
            f"p{q}": round(1000 * percentile([op["t1"] - op["t0"] for op in history], q), 1) for q in (50, 99)
        },
        "anomalous_operations": {name: found[name][:200] for name in ANOMALIES if found[name]},
        "fault_log": faults,
    }
    (out / "report.json").write_text(json.dumps(summary, indent=2))
    (out / "timeline.svg").write_text(timeline(history, faults))
    print(table(summary))
    for name in ANOMALIES:
        for one in found[name][:3]:
            print(f"\n{name} (seed {seed}, rerun: {summary['rerun']}): {one['why']}")
            print("\n".join(window(history, one)))
    return summary


def table(summary: dict) -> str:
    latency = summary["latency_ms"]
    lines = [f"chaos run: seed {summary['seed']}, {summary['operations']} operations, {summary['clients']} clients, "
             f"{summary['seconds']} s; latency p50 {latency['p50']} ms, p99 {latency['p99']} ms",
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


def _tag(name: str, text: str = "", **attrs) -> str:
    """One SVG element; attribute names with "_" for "-"."""
    pairs = " ".join(f"{key.replace('_', '-')}='{value}'" for key, value in attrs.items())
    return f"<{name} {pairs}>{text}</{name}>"


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
    plot_h, bar = height - 60, (width - 100) / seconds

    def x_of(moment: float) -> str:
        return f"{50 + (width - 100) * (moment - t0) / span:.1f}"

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-family='sans-serif'>"]
    for fault in faults:
        x0, x1 = x_of(fault["start"]), x_of(fault["end"])
        wide = f"{max(1.0, float(x1) - float(x0)):.1f}"
        parts.append(_tag("rect", _tag("title", fault["kind"]), x=x0, y=20, width=wide, height=plot_h, fill="#90a4ae",
                          opacity=0.35))  # fmt: skip
        parts.append(_tag("text", fault["kind"], x=x0, y=16, font_size=9, transform=f"rotate(-30 {x0} 16)"))
    for second, counts in enumerate(buckets):
        y = 20 + plot_h
        for name, colour in colours.items():
            if h := plot_h * counts[name] / top:
                y -= h
                left, wide = f"{50 + second * bar:.1f}", f"{max(0.5, bar - 0.5):.1f}"
                parts.append(_tag("rect", x=left, y=f"{y:.1f}", width=wide, height=f"{h:.1f}", fill=colour))
    for q, colour in ((50, "#1565c0"), (99, "#000000")):
        points = " ".join(
            f"{50 + (s + 0.5) * bar:.1f},{20 + plot_h * (1 - percentile(v, q) / slowest):.1f}"
            for s, v in enumerate(latencies)
            if v
        )
        parts.append(_tag("polyline", points=points, fill="none", stroke=colour, stroke_width=1))
    for x, y, text in ((5, height - 25, "0 s"), (width - 60, height - 25, f"{span:.0f} s"), (5, 30, f"{top} ops/s"),
                       (width - 48, 30, f"{slowest:.0f} ms")):  # fmt: skip
        parts.append(_tag("text", text, x=x, y=y, font_size=10))
    legend = [*colours.items(), ("p50 latency", "#1565c0"), ("p99 latency", "#000000"), ("fault", "#90a4ae")]
    for n, (name, colour) in enumerate(legend):
        parts.append(_tag("rect", x=60 + n * 110, y=height - 14, width=10, height=10, fill=colour))
        parts.append(_tag("text", name, x=74 + n * 110, y=height - 5, font_size=10))
    parts.append("</svg>")
    return "\n".join(parts)
