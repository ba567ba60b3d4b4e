"""Settings of the bench's in-process measurements: the project's settings, unchanged, plus

- ROOT_URLCONF = bench.urls: the real routes plus the floor and peer views (bench/views.py);
- a `bench_peer` cache alias for the drf-extensions peer: the same Redis server and database as
  the `api` alias, its own key prefix, and django-redis' default (pickle) serializer.

# Note: the peer cannot use the `api` alias itself: the project configures every alias with
# django-redis' JSON serializer, and drf-extensions stores a (bytes, status, headers) tuple,
# which JSON cannot encode. Pickle is what a drf-extensions deployment would use.

Only the bench's own process uses this module; the gunicorn workers of the workload run
resee.settings as production does.
"""

from copy import deepcopy

from resee.settings import *  # noqa: F403
from resee.settings import CACHES, REDIS_KEY_NAMESPACE

ROOT_URLCONF = "bench.urls"

CACHES = deepcopy(CACHES)
CACHES["bench_peer"] = deepcopy(CACHES["api"])
CACHES["bench_peer"]["KEY_PREFIX"] = f"{REDIS_KEY_NAMESPACE}:peer"
del CACHES["bench_peer"]["OPTIONS"]["SERIALIZER"]
