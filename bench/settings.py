"""Settings of the bench's in-process measurements: the project's settings, unchanged, with the
real routes plus the floor and limit views (bench/urls.py, bench/views.py). Only the bench's own
process uses this module; the servers it starts run resee.settings as production does."""

from resee.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
