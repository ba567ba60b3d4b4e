"""Django settings for Resee.

Everything that differs between a laptop, CI and production comes from the environment through
`resee.env`. With no environment at all the project runs embedded: SQLite in `var/` and one
in-process fakeredis server standing in for Redis, so `make run` and the unit tests need no servers.
"""

import secrets
import sys
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from resee.env import env_bool, env_choice, env_float, env_int, env_list, env_port, env_str

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", False)
TESTING = "pytest" in sys.modules or "test" in sys.argv[1:2]

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    # Note: a per-process key is fine for tests and a single dev server; `make run` persists one
    # in var/secret_key so tokens survive restarts.
    SECRET_KEY = secrets.token_urlsafe(50)

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_TZ = True
USE_I18N = False
LANGUAGE_CODE = "en-us"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "accounts",
    "content",
    "review",
    "analytics",
    "decks",
    "webapp",
    "utils.cache_utils",
    "utils.idempotency",
    "resee",  # the project's own system checks
]

# Note: the slow-request log comes first, so its duration and SQL count cover every other
# middleware (sessions, CSRF, WhiteNoise, the Prometheus pair) and the view, where DRF runs the
# JWT check, the revocation lookup, the throttles and the cache; only the WSGI handler's own work
# and the streaming of the body to the client fall outside.
MIDDLEWARE = [
    "utils.middleware.SlowRequestLogMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Note: above everything that can answer (the fresh hit, CommonMiddleware): a preflight is
    # answered here, with no token, throttle or Redis call, and every answer gets its headers.
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "utils.middleware.PrometheusAfterMiddleware",
]

# Note: an API has no use for slash redirects; a missing slash is a 404 JSON like any unknown route.
APPEND_SLASH = False
ROOT_URLCONF = "resee.urls"
WSGI_APPLICATION = "resee.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

STATIC_URL = "static/"
# Note: WhiteNoise serves the admin and Swagger UI assets straight from the installed apps, so
# no collectstatic step is needed; set STATIC_ROOT only if you collect them for a CDN.
STATIC_ROOT = env_str("STATIC_ROOT")
WHITENOISE_USE_FINDERS = True
# Note: without autorefresh WhiteNoise indexes ~1,700 asset files whenever a handler starts: once
# per process in production, but once per test client in tests.
WHITENOISE_AUTOREFRESH = DEBUG or TESTING

# --- Database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env_int("DB_CONNECT_TIMEOUT", 3, minimum=1)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Note: a deferred transaction reads first and asks for the write lock later; when another
    # writer holds it SQLite fails at once ("database is locked") instead of waiting, since waiting
    # could deadlock. IMMEDIATE takes the lock at BEGIN, where the busy timeout applies, so
    # concurrent writers queue. WAL lets reads go on beside the one writer.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        transaction_mode="IMMEDIATE",
        timeout=env_float("DB_SQLITE_TIMEOUT", 5.0),
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
    )
    # Note: spelled out for pytest-django, which knows SQLite only by Django's own engine path
    # (replaced below) and would otherwise make each xdist worker a file named after var/db.sqlite3.
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
# django-prometheus' wrappers of the same backends count queries and errors (SQL per minute panel).
DATABASES["default"]["ENGINE"] = DATABASES["default"]["ENGINE"].replace("django.db.", "django_prometheus.db.")

# --- Redis ----------------------------------------------------------------------------------
# One Redis server, one database per purpose, so that flushing the API cache can never drop
# throttle counters or revoked tokens. Eviction is server-wide: see redis.conf for what it costs.
# standalone: one server (REDIS_URL), a database per purpose. sentinel: the same databases on the
# master that REDIS_SENTINELS name, followed through failovers. cluster: REDIS_URL names one node
# of a Redis Cluster; the purposes share its one keyspace, apart by key prefix (utils.redis_layer).
REDIS_MODE = env_choice("REDIS_MODE", "standalone", ("standalone", "sentinel", "cluster"))
REDIS_URL = env_str("REDIS_URL")
REDIS_EMBEDDED = REDIS_MODE == "standalone" and not REDIS_URL
REDIS_SENTINELS = [
    (address.rpartition(":")[0], env_port("REDIS_SENTINELS", address.rpartition(":")[2]))
    for address in env_list("REDIS_SENTINELS", [])
]
REDIS_SENTINEL_MASTER = env_str("REDIS_SENTINEL_MASTER", "resee")
REDIS_SENTINEL_PASSWORD = env_str("REDIS_SENTINEL_PASSWORD")  # the sentinels' own, if they ask for one
REDIS_PASSWORD = env_str("REDIS_PASSWORD")  # the master's, in sentinel mode (elsewhere in REDIS_URL)
if REDIS_MODE == "cluster" and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_MODE=cluster needs REDIS_URL, the address of one node of the cluster.")
if REDIS_MODE == "sentinel" and not REDIS_SENTINELS:
    raise ImproperlyConfigured("REDIS_MODE=sentinel needs REDIS_SENTINELS, e.g. 10.0.0.1:26379,10.0.0.2:26379.")
REDIS_DB_THROTTLE = env_int("REDIS_DB_THROTTLE", 0)
REDIS_DB_CACHE = env_int("REDIS_DB_CACHE", 1)
REDIS_DB_JOBS = env_int("REDIS_DB_JOBS", 2)  # job progress, polled by clients
REDIS_DB_RESULTS = env_int("REDIS_DB_RESULTS", 3)  # Celery's task results
REDIS_DB_REVOCATION = env_int("REDIS_DB_REVOCATION", 4)
# Prepended to every key prefix. Each test process gets its own, so a test run against a shared
# Redis only ever reads, writes and deletes its own keys.
REDIS_KEY_NAMESPACE = env_str("REDIS_KEY_NAMESPACE", f"resee-test-{secrets.token_hex(4)}" if TESTING else "resee")


def _redis_location(db: int) -> str:
    # Note: the embedded host name only keys fakeredis' in-process server; nothing is dialled (in
    # sentinel mode the layer dials the sentinels' master and takes only the database from here).
    base = urlsplit(REDIS_URL or "redis://embedded-fakeredis:6379")
    return urlunsplit((base.scheme, base.netloc, f"/{db}", base.query, ""))


# utils.redis_layer: one timeout for every purpose, and one circuit breaker per server.
REDIS_TIMEOUT = env_float("REDIS_TIMEOUT", 0.1)
REDIS_BREAKER_FAILURES = env_int("REDIS_BREAKER_FAILURES", 3, minimum=1)
REDIS_BREAKER_COOLDOWN_SECONDS = env_float("REDIS_BREAKER_COOLDOWN_SECONDS", 5.0)
# While a circuit is open, each process PINGs that server this often (utils.redis_layer.probe).
REDIS_BREAKER_PROBE_SECONDS = env_float("REDIS_BREAKER_PROBE_SECONDS", 0.5)


def _redis_cache(db: int, prefix: str) -> dict:
    pool_kwargs = {"health_check_interval": 30}
    if REDIS_EMBEDDED:
        from fakeredis import FakeRedisConnection

        pool_kwargs = {"connection_class": FakeRedisConnection}
    return {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _redis_location(db),
        "KEY_PREFIX": f"{REDIS_KEY_NAMESPACE}:{prefix}",
        "OPTIONS": {
            "SOCKET_CONNECT_TIMEOUT": REDIS_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_TIMEOUT,
            "CONNECTION_POOL_KWARGS": pool_kwargs,
            # Note: JSON, never pickle, should anything use the cache API; the project itself stores
            # bytes of its own formats through utils.redis_layer.
            "SERIALIZER": "django_redis.serializers.json.JSONSerializer",
        },
    }


# The aliases hold the purposes' connection pools; utils.redis_layer is the only user of them.
CACHES = {
    "default": _redis_cache(REDIS_DB_THROTTLE, "throttle"),
    "api": _redis_cache(REDIS_DB_CACHE, "api"),
    "revocation": _redis_cache(REDIS_DB_REVOCATION, "revoked"),
    "jobs": _redis_cache(REDIS_DB_JOBS, "job"),
}

# --- Background jobs (decks: imports) ------------------------------------------------------
# Note: with the embedded Redis no other process could see a job's progress, so jobs run in a
# thread of the API process; with a real Redis, in Celery workers fed by RabbitMQ.
JOBS_IN_PROCESS = env_bool("JOBS_IN_PROCESS", REDIS_EMBEDDED)
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECTION_TIMEOUT", 3.0)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Note: a publish retries briefly, then the API answers 503 instead of holding the request.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5}
# Note: nothing reads a task's result (the job row and its progress key say everything), and
# Celery's Redis backend cannot follow a cluster's slots: on a cluster none is kept.
CELERY_RESULT_BACKEND = None if REDIS_EMBEDDED or REDIS_MODE == "cluster" else _redis_location(REDIS_DB_RESULTS)
CELERY_RESULT_EXPIRES = timedelta(days=1)
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"global_keyprefix": f"{REDIS_KEY_NAMESPACE}:celery:"}
if REDIS_MODE == "sentinel":
    CELERY_RESULT_BACKEND = ";".join(f"sentinel://{host}:{port}/{REDIS_DB_RESULTS}" for host, port in REDIS_SENTINELS)
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["master_name"] = REDIS_SENTINEL_MASTER
    if REDIS_SENTINEL_PASSWORD:
        CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS["sentinel_kwargs"] = {"password": REDIS_SENTINEL_PASSWORD}
# Each deployment (and each test process) its own queue, like its own Redis keys.
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", f"{REDIS_KEY_NAMESPACE}.jobs")
# Note: acknowledged when done, and put back when the worker dies mid-task, so a killed import is
# taken up again by the next worker (which resumes it: decks.services.import_run).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- CORS: the web app on an origin of its own --------------------------------------------
# Off unless origins are listed. Credentials (the browser session's refresh cookie,
# accounts.cookies) for the listed origins only: never with '*', which turns them off;
# the session-based admin stays same-origin (CORS covers /api/ only).
_cors_origins = env_list("CORS_ALLOWED_ORIGINS", [])
CORS_ALLOW_ALL_ORIGINS = "*" in _cors_origins  # resee.W002 under check --deploy
CORS_ALLOWED_ORIGINS = [origin for origin in _cors_origins if origin != "*"]
CORS_ALLOW_CREDENTIALS = bool(CORS_ALLOWED_ORIGINS) and not CORS_ALLOW_ALL_ORIGINS  # resee.E003 otherwise
CORS_URLS_REGEX = r"^/api/"
CORS_ALLOW_HEADERS = ["authorization", "content-type", "if-none-match", "idempotency-key"]
CORS_EXPOSE_HEADERS = ["ETag", "X-Cache", "Retry-After", "Idempotent-Replayed"]
CORS_PREFLIGHT_MAX_AGE = env_int("CORS_PREFLIGHT_MAX_AGE", 86400, minimum=0)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.RevocableJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "utils.params.PlainJSONNegotiation",
    "DEFAULT_THROTTLE_CLASSES": [
        "utils.throttling.AnonRateThrottle",
        "utils.throttling.UserRateThrottle",
        "utils.throttling.ScopedRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_str("THROTTLE_ANON_RATE", "120/min"),
        "user": env_str("THROTTLE_USER_RATE", "1200/min"),
        # Password guessing and sign-up spam: per client IP, on register, token and refresh.
        "auth": env_str("THROTTLE_AUTH_RATE", "30/min"),
        "imports": env_str("THROTTLE_IMPORTS_RATE", "30/hour"),
    },
    "DEFAULT_PAGINATION_CLASS": "utils.pagination.StrictPageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "utils.exceptions.json_exception_handler",
    # Note: no OPTIONS metadata (405 instead): nothing here uses it (no browsable API; CORS
    # preflights are answered by CorsMiddleware before DRF), it
    # describes every field to anyone, and on detail views it was a 500 (it calls get_object(),
    # which views without a queryset cannot answer).
    "DEFAULT_METADATA_CLASS": None,
    "DEFAULT_SCHEMA_CLASS": "utils.schema.ErrorDocumentingAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

AUTHENTICATION_BACKENDS = ["accounts.backends.UsernameOrEmailBackend"]

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 15, minimum=1)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env_int("JWT_REFRESH_DAYS", 7, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "UPDATE_LAST_LOGIN": False,
    "AUTH_HEADER_TYPES": ("Bearer",),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Resee API",
    "DESCRIPTION": "Spaced-repetition backend: content, review schedules and analytics.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "utils.schema.close_request_bodies"],
}

# --- Email: password reset mails (accounts.services) ------------------------------------
# Printed on the console under DEBUG (`make run`); sent over SMTP otherwise.
EMAIL_BACKEND = f"django.core.mail.backends.{'console' if DEBUG else 'smtp'}.EmailBackend"
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Resee <no-reply@localhost>")
# The web app's reset page, with {uid} and {token} in it; unset, the mail gives the two values.
PASSWORD_RESET_URL = env_str("PASSWORD_RESET_URL", "")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    # Note: the default PBKDF2 work factor costs ~0.3 s per login; tests log in hundreds of times.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Product policy, one namespaced block read at call time through utils.conf.
RESEE = {
    "REVIEW_INTERVAL_DAYS": env_list("REVIEW_INTERVAL_DAYS", ["1", "3", "7", "14", "30", "60", "120", "180"]),
    "MAX_PAGE_SIZE": 100,
    "LEECH_LAPSES": env_int("LEECH_LAPSES", 8, minimum=1),
    # Imports (decks.services): the upload, the unpacked Anki collection, the notes of one file.
    "IMPORT_MAX_UPLOAD_BYTES": env_int("IMPORT_MAX_UPLOAD_MB", 20, minimum=1) * 2**20,
    "IMPORT_MAX_COLLECTION_BYTES": env_int("IMPORT_MAX_COLLECTION_MB", 100, minimum=1) * 2**20,
    "IMPORT_MAX_NOTES": env_int("IMPORT_MAX_NOTES", 50_000, minimum=1),
    "IMPORT_PROGRESS_TTL_SECONDS": 3600,
    # A change of the learner's zone or hour recounts up to this many past reviews in its request;
    # a longer history is recounted by a job (accounts.services.learner_update).
    "RECOUNT_INLINE_MAX_REVIEWS": env_int("RECOUNT_INLINE_MAX_REVIEWS", 10_000, minimum=0),
    # FSRS learners (review.scheduling): the longest interval, and the fuzz that spreads cards
    # answered together over nearby days (off in tests, which compare with the package unfuzzed).
    "FSRS_MAXIMUM_INTERVAL_DAYS": env_int("FSRS_MAXIMUM_INTERVAL_DAYS", 36500, minimum=1),
    "FSRS_FUZZ": env_bool("FSRS_FUZZ", not TESTING),
}

# The cache layer (utils/cache_utils/conf.py has the defaults and the reasons).
RESEE_CACHE = {
    "ENABLED": env_bool("CACHE_ENABLED", True),
    "TTL": {
        "today": env_int("CACHE_TTL_TODAY", 3600, minimum=1),
        "stats": env_int("CACHE_TTL_STATS", 300, minimum=1),
        "content": env_int("CACHE_TTL_CONTENT", 600, minimum=1),
    },
    # Part of every key: set it per deploy (e.g. the git sha) to start a release on a clean cache.
    "RELEASE": env_str("CACHE_RELEASE", "1"),
    "REFRESH_ON_WRITE": env_bool("CACHE_REFRESH_ON_WRITE", True),
    "L1_ENABLED": env_bool("CACHE_L1_ENABLED", False),
    "L1_TTL_SECONDS": env_float("CACHE_L1_TTL_SECONDS", 2.0),
}

# Requests slower than this many milliseconds are logged on `resee.slow` (0: off).
SLOW_REQUEST_MS = env_int("SLOW_REQUEST_MS", 500)
# Bearer token Prometheus must present on /metrics; unset, the page is open (check --deploy warns).
METRICS_TOKEN = env_str("METRICS_TOKEN")

# --- Production hardening -------------------------------------------------------------------
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY") else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = REFRESH_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
# Note: both are promises about every subdomain and hard to take back: off unless set.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # SLOW_REQUEST_MS is the switch of the slow-request log, whatever LOG_LEVEL says.
        "resee.slow": {"level": "WARNING"},
    },
}
