"""The layout of the per-worker SQL counter files written by bench/wsgi.py, and their reader (no
Django import here: the bench process reads them while gunicorn serves)."""

import os
import struct

SLOTS = ("today", "stats", "content", "complete", "edit", "other")
# Per slot: SQL statements, then requests; then the worker's CPU time (ns, process-wide, as of
# its latest request), so a worker recycled by max_requests still accounts for its CPU.
# Unsigned 64-bit little-endian.
CPU_OFFSET = 16 * len(SLOTS)
SLOT_BYTES = CPU_OFFSET + 8


def read_counters(directory: str) -> dict:
    """{"queries": {slot: n}, "requests": {slot: n}, "workers": [pids], "cpu_ns": {pid: ns}} summed
    over every file."""
    queries = dict.fromkeys(SLOTS, 0)
    requests = dict.fromkeys(SLOTS, 0)
    pids, cpu = [], {}
    for name in sorted(os.listdir(directory)):
        if not (name.startswith("worker-") and name.endswith(".bin")):
            continue
        with open(os.path.join(directory, name), "rb") as handle:
            data = handle.read(SLOT_BYTES)
        if len(data) < SLOT_BYTES:
            continue
        values = struct.unpack(f"<{2 * len(SLOTS) + 1}Q", data)
        for i, slot in enumerate(SLOTS):
            queries[slot] += values[i]
            requests[slot] += values[len(SLOTS) + i]
        pid = int(name[len("worker-") : -len(".bin")])
        pids.append(pid)
        cpu[pid] = values[-1]
    return {"queries": queries, "requests": requests, "workers": pids, "cpu_ns": cpu}
