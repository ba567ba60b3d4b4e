"""gunicorn entry point of the workload bench: resee.wsgi's application unchanged, plus a counter of
the SQL statements each worker sends, by endpoint.

Each worker process (imported after the fork, gunicorn does not preload) maps a small file
`worker-<pid>.bin` in $BENCH_COUNTER_DIR: for each endpoint class, the SQL statements executed
while serving it (a Django execute wrapper on every database connection) and the requests served.
The bench process reads the files at the start and the end of the measured window; files stay
after a worker exits, so a worker recycled by max_requests loses nothing. Statements only:
transaction control (BEGIN/COMMIT of an atomic block) goes through the driver, not a cursor.
"""

import mmap
import os
import re
import struct
import threading
import time

from django.db.backends.signals import connection_created

from bench.sqlcount import CPU_OFFSET, SLOT_BYTES, SLOTS
from resee.wsgi import application as django_application

_INDEX = {name: i for i, name in enumerate(SLOTS)}
_EDIT = re.compile(r"^/api/content/[0-9]+/$")
_local = threading.local()
_lock = threading.Lock()
_map = None


def slot_of(method: str, path: str) -> int:
    if method == "GET":
        name = {"/api/review/today/": "today", "/api/analytics/stats/": "stats", "/api/content/": "content"}.get(path)
        return _INDEX[name or "other"]
    if method == "POST" and path == "/api/review/complete/":
        return _INDEX["complete"]
    if method in ("PATCH", "PUT") and _EDIT.match(path):
        return _INDEX["edit"]
    return _INDEX["other"]


def _add(offset: int) -> None:
    with _lock:
        (value,) = struct.unpack_from("<Q", _map, offset)
        struct.pack_into("<Q", _map, offset, value + 1)


_sql_log = None


def _count_statement(execute, sql, params, many, context):
    slot = getattr(_local, "slot", _INDEX["other"])
    _add(8 * slot)
    if _sql_log is not None:  # BENCH_SQL_LOG: a debugging aid, off in every measured run
        _sql_log.write(f"{SLOTS[slot]}\t{' '.join(str(sql).split())[:160]}\n")
    return execute(sql, params, many, context)


def _on_connection(sender, connection, **kwargs):
    # Note: the signal fires on every reconnect (CONN_MAX_AGE, a failed health check) of the same
    # DatabaseWrapper, whose wrapper list survives: add the counter once.
    if _count_statement not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_statement)


def application(environ, start_response):
    _local.slot = slot = slot_of(environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
    with _lock:
        offset = 8 * (len(SLOTS) + slot)
        (value,) = struct.unpack_from("<Q", _map, offset)
        struct.pack_into("<Q", _map, offset, value + 1)
        struct.pack_into("<Q", _map, CPU_OFFSET, time.process_time_ns())
    return django_application(environ, start_response)


_directory = os.environ.get("BENCH_COUNTER_DIR")
if _directory:
    _fd = os.open(os.path.join(_directory, f"worker-{os.getpid()}.bin"), os.O_CREAT | os.O_RDWR, 0o600)
    os.ftruncate(_fd, SLOT_BYTES)
    _map = mmap.mmap(_fd, SLOT_BYTES)
    connection_created.connect(_on_connection, weak=False, dispatch_uid="bench.count_sql")
    if os.environ.get("BENCH_SQL_LOG"):
        _sql_log = open(f"{os.environ['BENCH_SQL_LOG']}.{os.getpid()}", "a", buffering=1)  # noqa: SIM115
else:  # imported for read_counters only, or run without the bench: count nothing
    application = django_application  # noqa: F811
