"""The targets, checked against the results, and the markdown printed at the end of a run.
Each target is named by what it measures."""

ENDPOINTS = ("today", "stats", "content")  # as in bench.hitpath, without importing Django

HIT_OVER_LIMIT = 1.3  # a hit within 30% of the least any strictly fresh hit can cost
HIT_OVER_FLOOR = 1.3  # ... and of what any authenticated endpoint pays
UNCACHED_OVER_HIT = {"today": 5.0, "stats": 15.0, "content": 5.0}  # a cache must pay for itself
ROUND_TRIPS_PER_HIT = 1  # revocation, throttles and the lookup together
SERVED_HIT_OVER_BASELINE = 1.5  # the deployed server against gunicorn as deployed before
WORKLOAD_OVER_BASELINE = 1.3
SERVED_WORKLOAD_HIT_RATE = 0.85
WORKLOAD_HIT_RATE = 0.90
SCHEDULER_HIT_RATE = 0.85  # each scheduler's learners within the workload (FSRS's steps end entries early)
SCHEDULERS = ("ladder", "fsrs")  # as in bench.served
WORKLOAD_SQL_REDUCTION = 0.90
OUTAGE_P99_MS = 50.0  # reads after the first 3 requests of a Redis outage
RECOVERY_SECONDS = 5.0  # from the mend to the first HIT
# "Within noise": the largest size's median is at most 10% above the smallest's, or the
# difference is below the spread (p90 - p10) of the smallest's samples.
FLAT_TOLERANCE = 0.10


def _target(name, wanted, measured, met, note=""):
    return {"name": name, "target": wanted, "measured": measured, "met": bool(met), "note": "" if met else note}


def _at_most(name: str, ratio: float, bound: float, detail: str) -> dict:
    return _target(name, f"<= {bound}x", f"{ratio:.2f}x ({detail})", ratio <= bound, f"over by {ratio / bound - 1:.0%}")


def _at_least(name: str, ratio: float, bound: float, detail: str) -> dict:
    short = f"short by {1 - ratio / bound:.0%}"
    return _target(name, f">= {bound:g}x", f"{ratio:.2f}x ({detail})", ratio >= bound, short)


def _rate_at_least(name: str, rate: float, bound: float) -> dict:
    short = f"short by {(bound - rate) * 100:.1f} points"
    return _target(name, f">= {bound:.0%}", f"{rate:.1%}", rate >= bound, short)


def evaluate(results: dict) -> list[dict]:
    return [
        *_hit_targets(results.get("hit_path", {})),
        *_outage_targets(results.get("outage", {})),
        *_server_targets(results.get("http")),
        *_workload_targets(results.get("workload", {})),
        *_cost_targets(results),
    ]


def _hit_targets(hit: dict) -> list[dict]:
    targets = []
    for endpoint, row in hit.items():
        vs = f"{row['hit_us']:.0f} vs {{:.0f}} us"
        trips, sql = row["hit_redis_round_trips"]["total"], row["hit_sql_queries"]
        targets += [
            _at_most(f"hit / limit ({endpoint})", row["hit_over_limit"], HIT_OVER_LIMIT, vs.format(row["limit_us"])),
            _at_most(f"hit / floor ({endpoint})", row["hit_over_floor"], HIT_OVER_FLOOR, vs.format(row["floor_us"])),
            _at_least(
                f"uncached / hit ({endpoint})",
                row["uncached_over_hit"],
                UNCACHED_OVER_HIT[endpoint],
                f"{row['uncached_us']:.0f} vs {row['hit_us']:.0f} us",
            ),  # fmt: skip
            _target(f"Redis round trips per hit ({endpoint})", f"<= {ROUND_TRIPS_PER_HIT}", f"{trips:g}", trips <= 1),
            _target(f"SQL queries per hit ({endpoint})", "0", f"{sql:g}", sql == 0),
        ]
    return targets


def _outage_targets(outage: dict) -> list[dict]:
    targets = []
    for fault, row in outage.items():
        p99, seconds, revoked = row["p99_ms"], row["recovery_seconds"], row["revoked_status"]
        ok = p99 < OUTAGE_P99_MS and row["ok"] == row["reads"] and revoked == 401
        measured = f"{p99:g} ms, {row['ok']}/{row['reads']} reads 200, revoked {revoked}"
        mended = "none" if seconds is None else f"{seconds:g} s"
        targets += [
            _target(f"outage reads p99 ({fault})", f"< {OUTAGE_P99_MS:g} ms, all 200, revoked 401", measured, ok),
            _target(f"first HIT after the mend ({fault})", f"<= {RECOVERY_SECONDS:g} s", mended,
                    seconds is not None and seconds <= RECOVERY_SECONDS),
        ]  # fmt: skip
    return targets


def _server_targets(http: dict | None) -> list[dict]:
    if not http:
        return []
    name, base = http["deployed"], http["servers"][http["baseline"]]
    row, vs = http["servers"][name], f"{name} / {http['baseline']}"
    hit = _at_least(
        f"served today hits over HTTP, {vs}",
        row["today_hit_rps"] / base["today_hit_rps"],
        SERVED_HIT_OVER_BASELINE,
        f"{row['today_hit_rps']:,.0f} vs {base['today_hit_rps']:,.0f} req/s",
    )
    workload = _at_least(
        f"mixed workload over HTTP, {vs}, hit rate >= {SERVED_WORKLOAD_HIT_RATE:.0%}",
        row["workload_rps"] / base["workload_rps"], WORKLOAD_OVER_BASELINE,
        f"{row['workload_rps']:,.0f} vs {base['workload_rps']:,.0f} req/s, hit rate {row['workload_hit_rate']:.1%}",
    )  # fmt: skip
    if row["workload_hit_rate"] < SERVED_WORKLOAD_HIT_RATE:
        workload.update(met=False, note=f"{workload['note']}; hit rate {row['workload_hit_rate']:.1%}".strip("; "))
    return [hit, workload]


def _workload_targets(workload: dict) -> list[dict]:
    on, off = workload.get("cache_on"), workload.get("cache_off")
    if not (on and off):
        return []
    targets = [_rate_at_least("hit rate (workload)", on["hit_rate"], WORKLOAD_HIT_RATE)]
    for name, rate in on.get("hit_rate_by_scheduler", {}).items():
        targets.append(_rate_at_least(f"hit rate (workload, {name} learners)", rate, SCHEDULER_HIT_RATE))
    reduction = workload.get("sql_reduction_per_request")
    if reduction is not None:
        measured = f"-{reduction:.1%} ({off['sql_queries_per_request']:.2f} -> {on['sql_queries_per_request']:.2f})"
        short = f"short by {(WORKLOAD_SQL_REDUCTION - reduction) * 100:.1f} points; writes keep their queries"
        met = reduction >= WORKLOAD_SQL_REDUCTION
        name = "SQL queries per request (workload)"
        targets.append(_target(name, f"-{WORKLOAD_SQL_REDUCTION:.0%}", measured, met, short))
    return targets


def _cost_targets(results: dict) -> list[dict]:
    inv = results.get("invalidation", {})
    if len(inv) < 2:
        return []
    small, large = inv[min(inv, key=int)], inv[max(inv, key=int)]
    spread = small["p90_us"] - small["p10_us"]
    flat = (
        large["median_us"] <= small["median_us"] * (1 + FLAT_TOLERANCE)
        or large["median_us"] - small["median_us"] <= spread
    )
    name = f"invalidation {int(max(inv, key=int)):,} vs {int(min(inv, key=int)):,} entries"
    measured = f"{large['median_us']:.0f} vs {small['median_us']:.0f} us (p10-p90 spread {spread:.0f} us)"
    return [_target(name, "flat (within noise)", measured, flat)]


def _table(header: str, rows: list[str]) -> list[str]:
    """A markdown table: `header` and each row are cells joined by " | "."""
    return [f"| {header} |", "|" + "---|" * (header.count(" | ") + 1), *(f"| {row} |" for row in rows)]


def markdown(results: dict) -> str:
    machine, config = results["machine"], results["config"]
    lines = [
        f"## Resee bench ({results['mode']}): redis={results['redis']}, database={results['database']}",
        "",
        f"{machine['nproc']} CPU ({machine['cpu_model']}), load average {machine['load_average']}, Python "
        f"{machine['python']}, {machine['redis_version']}, {machine['database_version']}; "
        f"{config['users']} users x {config['contents']} contents",
    ]
    for section in (_hit_lines, _outage_lines, _server_lines, _workload_lines, _cost_lines):
        lines += section(results)
    rows = [
        f"{t['name']} | {t['target']} | {t['measured']} | " + ("yes" if t["met"] else f"**no** {t['note']}".rstrip())
        for t in results.get("targets", [])
    ]
    lines += ["", "### Targets", "", *_table("target | wanted | measured | met", rows)] if rows else []
    lines += _profile_lines(results)
    phases = ", ".join(f"{k} {v:g}" for k, v in results.get("phase_seconds", {}).items())
    return "\n".join([*lines, "", f"Phases (s): {phases}; total {results.get('elapsed_seconds')}"]) + "\n"


def _hit_lines(results: dict) -> list[str]:
    hit, meta = results.get("hit_path", {}), results.get("hit_path_meta", {})
    rows = []
    for endpoint, row in hit.items():
        times = " | ".join(
            f"{row[f'{m}_us']:,.0f} / {row[f'{m}_p99_us']:,.0f}" for m in ("limit", "floor", "hit", "uncached", "miss")
        )
        rows.append(
            f"{endpoint} ({row.get('items', '-')} items) | {times} | {row['hit_over_limit']:.2f}x | "
            f"{row['hit_over_floor']:.2f}x | {row['uncached_over_hit']:.1f}x | {row['miss_over_uncached']:.2f}x | "
            f"{row['hit_sql_queries']:g} | {row['hit_redis_round_trips']['total']:g} | {row['body_bytes']:,}"
        )
    header = (
        "endpoint | limit | stack floor | hit | uncached | miss | hit/limit | hit/floor | uncached/hit | "
        "miss/uncached | SQL per hit | Redis round trips per hit | body bytes"
    )
    title = (
        f"### Hit path, in-process (median / p99 us; {meta.get('rotation_users')} users rotated, "
        f"{meta.get('rounds')} rounds x {meta.get('batch')})"
    )
    return ["", title, "", *_table(header, rows)] if rows else []


def _outage_lines(results: dict) -> list[str]:
    if results.get("outage_skipped"):
        return ["", f"### Redis outage: skipped ({results['outage_skipped']})"]
    rows = [
        f"{fault} | {', '.join(map(str, row['first_statuses']))} | {row['ok']}/{row['reads']} | "
        f"{row['p50_ms']:g} / {row['p99_ms']:g} / {row['max_ms']:g} | {row['revoked_status']} | "
        + ("none" if row["recovery_seconds"] is None else f"{row['recovery_seconds']:g} s")
        for fault, row in results.get("outage", {}).items()
    ]
    header = "fault | first 3 statuses | reads 200 | p50 / p99 / max ms | revoked token | first HIT after the mend"
    title = "### Redis outage, in-process (the bench's own redis-server; reads after the first 3)"
    return ["", title, "", *_table(header, rows)] if rows else []


def _server_lines(results: dict) -> list[str]:
    if results.get("http_skipped"):
        return ["", f"### Servers over HTTP: skipped ({results['http_skipped']})"]
    http = results.get("http")
    if not http:
        return []
    rows = []
    for name, row in http["servers"].items():
        ratio = http["over_baseline"][name]  # the spread's parts, in the table's order: today hit, 404, workload
        rates = [f"{row[part + '_rps']:,.0f} ({low:,.0f}-{high:,.0f})" for part, (low, high) in row["spread"].items()]
        rows.append(" | ".join([
            name, *rates, f"{row['workload_p99_ms']:g}", f"{row['workload_hit_rate']:.1%}",
            f"{row['cpu_ms_per_request']:g} / {row['today_hit_cpu_ms_per_request']:g}",
            f"{ratio['today_hit']:.2f}x / {ratio['workload']:.2f}x", f"{row['server_errors']} / {row['socket_errors']}",
        ]))  # fmt: skip
    header = (
        "server | today hit req/s | 404 req/s | workload req/s | workload p99 ms | workload hit rate | "
        "CPU ms per request (workload / hit) | x baseline (hit / workload) | 5xx / socket errors"
    )
    title = (
        f"### Servers over HTTP, side by side (2 workers each, wrk -t2 -c8, median of {http['rounds']} "
        f"interleaved rounds of {http['seconds_per_run']:g}s, min-max in brackets; deployed: {http['deployed']})"
    )
    return ["", title, "", *_table(header, rows)]


def _workload_lines(results: dict) -> list[str]:
    if results.get("workload_skipped"):
        return ["", f"### Workload over HTTP: skipped ({results['workload_skipped']})"]
    workload, meta = results.get("workload", {}), results.get("workload_meta", {})
    # Note: runs from before the workload had FSRS learners have no per-scheduler hit rates.
    rates = [row.get("hit_rate_by_scheduler", {}) for row in workload.values() if isinstance(row, dict)]
    by = [name for name in SCHEDULERS if any(name in row for row in rates)]
    rows = [
        f"{mode} | {row['rps']:,.0f} | {row['hit_rate']:.1%}"
        + "".join(f" | {row.get('hit_rate_by_scheduler', {}).get(name, 0):.1%}" for name in by)
        + f" | {row['sql_queries_per_min']:,} | "
        f"{row['sql_queries_per_request']} | {row['p50_ms']:g} / {row['p99_ms']:g} | "
        f"{row['cpu_ms_per_request']} / {row['wrk_cpu_ms_per_request']} | "
        f"{row['client_errors']} / {row['server_errors']} / {row['socket_errors']}"
        for mode, row in workload.items()
        if isinstance(row, dict)
    ]
    if not rows:
        return []
    header = (
        "mode | req/s | hit rate (X-Cache)" + "".join(f" | {name} learners' hit rate" for name in by) + " | "
        "SQL/min | SQL/request | p50 / p99 ms | "
        "CPU ms per request (server / wrk) | 4xx / 5xx / socket errors"
    )
    title = (
        f"### Workload over HTTP ({meta['server']}, {meta['workers']} workers, wrk -t2 -c{meta['connections']}, "
        f"Zipf({meta['zipf_s']}) over {meta['users']} users{_learners_said(meta)}, mix {meta['mix']}, "
        f"{meta['warmup']:g}s warm-up + {meta['duration']:g}s measured)"
    )
    lines = ["", title, "", *_table(header, rows)]
    if workload.get("sql_reduction_per_request") is not None:
        reduction, gain = workload["sql_reduction_per_request"], workload["rps_gain"]
        lines += ["", f"SQL reduction per request {reduction:.1%}; req/s x{gain:.2f} with the cache on"]
    return lines


def _learners_said(meta: dict) -> str:
    # Note: a run from before the bench spread its users over time zones has no `learners`; its
    # page says nothing about them rather than failing.
    if "learners" not in meta:
        return ""
    learners = meta["learners"]
    said = f" in {len(learners['zones'])} time zones with daily limits {learners['reviews_per_day']}"
    schedulers = learners.get("schedulers", {})
    shown = [name for name in SCHEDULERS if name in schedulers] if len(schedulers) > 1 else []
    return said + "".join(f", {schedulers[name]} on {name}" for name in shown)


def _cost_lines(results: dict) -> list[str]:
    lines, inv = [], results.get("invalidation", {})
    if inv:
        rows = [
            f"{int(n):,} | {inv[n]['median_us']:.0f} | {inv[n]['p10_us']:.0f} / {inv[n]['p90_us']:.0f} / "
            f"{inv[n]['p99_us']:.0f} | {inv[n]['reps']}"
            for n in sorted(inv, key=int)
        ]
        title = "### Invalidation of one user (3 namespaces, one pipeline)"
        lines += ["", title, "", *_table("entries cached | median us | p10 / p90 / p99 us | reps", rows)]
    if imp := results.get("revlog_import"):
        row = f"{imp['state']} | {imp['cards']:,} | {imp['reviews']:,} | {imp['seconds']:g} | {imp['per_second']:,}"
        lines += ["", "### Anki import with history", "", *_table("job | cards | reviews | s | reviews/s", [row])]
    return lines


def _profile_lines(results: dict) -> list[str]:
    lines = []
    for endpoint, profile in results.get("profile", {}).items():
        title = (
            f"### Where a hit's time goes ({endpoint}, own time under cProfile over {profile['requests']} hits: "
            f"read the shares; full profiles: {', '.join(profile['files'])})"
        )
        rows = [f"{row['part']} | {row['us_per_request']:g} | {row['share']:.0%}" for row in profile["breakdown"]]
        lines += ["", title, "", *_table("where | own us per request (profiled) | share", rows)]
    return lines
