"""docs/configuration.md, from the modules that read the environment.

The variables, their defaults and the module reading each come from those modules' source (an
AST walk, nothing imported); what each one means is the table below. A variable read and not
described, or described and not read, stops the generation (and fails tests/docs)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# The modules that read the process environment: the settings (through resee/env.py), the server
# (uWSGI's options, read before Django starts) and the metrics' multiprocess directory.
SOURCES = ("resee/settings.py", "resee/serve.py", "resee/metrics.py")
READERS = {"env_str", "env_bool", "env_int", "env_float", "env_list", "env_choice", "env_port"}
# Note: handed from a process to its own children, never set by an operator.
INTERNAL = {"DJANGO_SETTINGS_MODULE", "RESEE_WSGI_TARGET"}
OUT = REPO / "docs" / "configuration.md"

MEANINGS = {
    "DATABASE_URL": "e.g. `postgres://user:pass@host:5432/resee`; unset: SQLite in `var/db.sqlite3`",
    "DB_CONN_MAX_AGE": "seconds a database connection is kept for the next request",
    "DB_CONNECT_TIMEOUT": "PostgreSQL connect timeout, seconds",
    "DB_SQLITE_TIMEOUT": "SQLite only: how long a write waits for the one writer before it is a 503",
    "REDIS_URL": "e.g. `redis://host:6379` (the database number is set per purpose); with "
    "`REDIS_MODE=cluster`, any one node of the cluster; unset: an embedded in-process fakeredis",
    "REDIS_MODE": "`standalone`, `sentinel` or `cluster` "
    "([Operations](operations.md#scaling-out-sentinel-and-redis-cluster))",
    "REDIS_SENTINELS": "sentinel mode: the sentinels, `host:port,host:port,...`",
    "REDIS_SENTINEL_MASTER": "sentinel mode: the name the sentinels monitor the master under",
    "REDIS_SENTINEL_PASSWORD": "sentinel mode: the sentinels' password",
    "REDIS_PASSWORD": "sentinel mode: the master's password (elsewhere the password goes in `REDIS_URL`)",
    "REDIS_DB_THROTTLE": "Redis database of the throttles' counters",
    "REDIS_DB_CACHE": "Redis database of the API cache",
    "REDIS_DB_JOBS": "Redis database of the jobs' progress",
    "REDIS_DB_RESULTS": "Redis database of Celery's task results",
    "REDIS_DB_REVOCATION": "Redis database of the token revocation hashes",
    "REDIS_KEY_NAMESPACE": "prefix of every key (`resee:throttle:…`, `resee:api:…`, `resee:job:…`, "
    "`resee:celery:…`, `resee:revoked:…`) and of the job queue's name",
    "REDIS_TIMEOUT": "connect and read timeout of every Redis call, seconds: a sick Redis must not hold "
    "requests for seconds",
    "REDIS_BREAKER_FAILURES": "the circuit to a Redis server opens after this many failures in a row",
    "REDIS_BREAKER_COOLDOWN_SECONDS": "an open circuit lets one probe through after this many seconds",
    "REDIS_BREAKER_PROBE_SECONDS": "while a circuit is open, one thread per process PINGs that server this "
    "often, seconds; an answer ends the cool-down early ([Reliability](reliability.md))",
    "SECRET_KEY": "required when `DEBUG` is off; `make run` keeps a generated one in `var/secret_key`",
    "DEBUG": "Django's debug mode; `make run` turns it on",
    "ALLOWED_HOSTS": "comma-separated host names the server answers",
    "TIME_ZONE": "the zone of a learner who has not chosen one ([Scheduling](scheduling.md#the-learners-day))",
    "STATIC_ROOT": "where `collectstatic` puts the static files",
    "LOG_LEVEL": "the root logger's level",
    "CELERY_BROKER_URL": "RabbitMQ, which carries the jobs",
    "CELERY_QUEUE": "the queue the API sends jobs to and the workers consume",
    "CELERY_BROKER_CONNECTION_TIMEOUT": "seconds an import waits for the broker before it is a 503",
    "JOBS_IN_PROCESS": "run jobs in a thread of the API process instead of Celery workers (on with the embedded Redis)",
    "IMPORT_MAX_UPLOAD_MB": "an import's largest upload, MB",
    "IMPORT_MAX_COLLECTION_MB": "an import's largest unpacked Anki collection, MB",
    "IMPORT_MAX_NOTES": "an import's most notes or rows",
    "RECOUNT_INLINE_MAX_REVIEWS": "a change of the learner's zone or hour recounts up to this many past "
    "reviews in its request, and a switch to FSRS replays them; a longer history, in a job "
    "([Scheduling](scheduling.md#the-learners-day))",
    "THROTTLE_ANON_RATE": "requests per IP without a token",
    "THROTTLE_USER_RATE": "requests per user",
    "THROTTLE_AUTH_RATE": "per IP on register, token, refresh, the password calls and account deletion",
    "THROTTLE_IMPORTS_RATE": "imports per user",
    "JWT_ACCESS_MINUTES": "access token lifetime, minutes",
    "JWT_REFRESH_DAYS": "refresh token lifetime, days",
    "CORS_ALLOWED_ORIGINS": "origins of web apps allowed to call `/api/` from a browser, with credentials "
    "([CORS](authentication.md#cors)); `*` allows any, without credentials, and `check --deploy` warns; "
    "`make run` sets `http://localhost:5173`",
    "CORS_PREFLIGHT_MAX_AGE": "seconds a browser may reuse a preflight's answer",
    "EMAIL_HOST": "the SMTP server password reset mails go through (under `DEBUG`: printed on the console instead)",
    "EMAIL_PORT": "its port",
    "EMAIL_HOST_USER": "its user",
    "EMAIL_HOST_PASSWORD": "its password",
    "EMAIL_USE_TLS": "STARTTLS to it",
    "EMAIL_TIMEOUT": "seconds a mail may take to send",
    "DEFAULT_FROM_EMAIL": "the sender of those mails",
    "PASSWORD_RESET_URL": "the web app's reset page, with `{uid}` and `{token}` in it, e.g. "
    "`https://app.example/reset/{uid}/{token}`; empty: the mail gives the uid and token",
    "REVIEW_INTERVAL_DAYS": "the ladder, strictly increasing ([Scheduling](scheduling.md#the-ladder))",
    "LEECH_LAPSES": "the lapses that make a card a leech, a positive integer "
    "([Statistics](statistics.md#schedules-and-leeches))",
    "FSRS_MAXIMUM_INTERVAL_DAYS": "FSRS's longest interval, days ([Scheduling](scheduling.md#the-schedulers))",
    "FSRS_FUZZ": "FSRS's fuzz of intervals of three days or more ([Scheduling](scheduling.md#the-schedulers)); "
    "off under pytest",
    "CACHE_ENABLED": "the read-through cache (off: every answer is `X-Cache: BYPASS`)",
    "CACHE_TTL_TODAY": "lifetime of a today entry, seconds",
    "CACHE_TTL_STATS": "lifetime of a stats entry, seconds",
    "CACHE_TTL_CONTENT": "lifetime of a content entry, seconds",
    "CACHE_RELEASE": "part of every cache key; change it per deploy to start clean",
    "CACHE_REFRESH_ON_WRITE": "after a write's response, recompute the writer's today list, stats and "
    "content index ([The cache](cache.md#refresh-on-write))",
    "CACHE_L1_ENABLED": "an in-process LRU in front of Redis ([The cache](cache.md#under-pressure))",
    "CACHE_L1_TTL_SECONDS": "the longest an L1 entry is kept, seconds",
    "SLOW_REQUEST_MS": "requests at least this slow are logged on `resee.slow` (0: off)",
    "METRICS_TOKEN": "the bearer token `/metrics` requires; unset: `/metrics` open, and `check --deploy` "
    "warns (`resee.W001`)",
    "PROMETHEUS_MULTIPROC_DIR": "where every worker writes its metrics, added up by `/metrics`; unset: a new "
    "temporary directory per server start; set a fixed one to read it with `cache_stats`",
    "BEHIND_TLS_PROXY": "trust `X-Forwarded-Proto: https` from the proxy in front",
    "SECURE_SSL_REDIRECT": "redirect plain HTTP to HTTPS",
    "SECURE_HSTS_SECONDS": "HSTS max-age",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "HSTS for subdomains too",
    "SECURE_HSTS_PRELOAD": "HSTS preload",
    "HOST": "the address the server (`python -m resee.serve`) binds",
    "PORT": "its port",
    "WEB_CONCURRENCY": "the server's workers",
    "WEB_THREADS": "threads per worker",
    "WEB_KEEPALIVE_REQUESTS": "requests after which a keep-alive connection is closed, on average, so "
    "that clients spread over the workers again",
    "WEB_WORKER_LIFETIME": "a worker is replaced at this age, seconds, once its requests are done; each next "
    "worker a tenth later (0: never)",
    "WEB_WORKER_MAX_RSS_MB": "... or once a request leaves it above this memory, MB (0: never)",
    "WEB_GRACEFUL_TIMEOUT": "SIGTERM lets requests in flight finish for this long, seconds",
    "WEB_ACCESS_LOG": "one line per request in the server's log, on stderr (`0`: none)",
}


def _name(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def _reads(source: str):
    """(name, default source or None) for every read of the environment in `source`."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            environ_get = isinstance(func, ast.Attribute) and called == "get" and _is_environ(func.value)
            if (called in READERS or environ_get) and (name := _name(node.args[0])):
                default = ast.get_source_segment(source, node.args[1]) if len(node.args) > 1 else None
                if default is None and called == "env_bool":
                    default = "False"  # resee.env.env_bool's own default
                yield name, default
        elif isinstance(node, ast.Subscript) and _is_environ(node.value) and (name := _name(node.slice)):
            yield name, None


def variables() -> dict[str, dict]:
    """Every variable read, with the modules reading it and its default as written there."""
    found: dict[str, dict] = {}
    for path in SOURCES:
        for name, default in _reads((REPO / path).read_text()):
            if name in INTERNAL:
                continue
            entry = found.setdefault(name, {"modules": [], "default": None})
            if path not in entry["modules"]:
                entry["modules"].append(path)
            if entry["default"] is None and default is not None and name != "REDIS_SENTINELS":
                entry["default"] = default
    return found


def render() -> str:
    found = variables()
    undescribed, unread = sorted(set(found) - set(MEANINGS)), sorted(set(MEANINGS) - set(found))
    if undescribed or unread:
        raise SystemExit(f"docsgen: describe {undescribed} in docsgen/configuration.py; drop {unread}")
    rows = []
    for name, entry in sorted(found.items()):
        modules = ", ".join(f"`{module}`" for module in entry["modules"])
        rows.append(f"| `{name}` | {_default(entry['default'])} | {MEANINGS[name]} | {modules} |")
    return HEADER + "\n".join(rows) + "\n" + FOOTER


def _default(source: str | None) -> str:
    return "none" if source is None else "`" + " ".join(source.split()).replace("|", "\\|") + "`"


HEADER = """# Configuration

<!-- Generated by `python -m docsgen` from the modules that read the environment; edit
docsgen/configuration.py (meanings) or those modules, not this page. -->

Everything that differs between machines is an environment variable, read in one place
(`resee/env.py`, used by `resee/settings.py`; the server's own options in `resee/serve.py`); a
malformed value stops start-up with a message naming the variable. The defaults below are the
expressions the code gives, as written there.

| Variable | Default | Meaning | Read in |
|---|---|---|---|
"""

FOOTER = """
`deploy/production.env` holds the non-secret settings of a deployment behind a TLS-terminating
proxy ([Operations](operations.md#production-settings)). The Redis databases by purpose and what
losing each costs: [Operations](operations.md#redis-databases-by-purpose).
"""


def write() -> Path:
    from docsgen.figures import write_if_changed

    return write_if_changed(OUT, render())
