"""Access to the `RESEE` settings block, with defaults, validated at call time.

Reading at call time (not import time) lets tests use `override_settings(RESEE=...)`.
"""

import itertools
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

DEFAULTS: dict[str, Any] = {
    "REVIEW_INTERVAL_DAYS": [1, 3, 7, 14, 30, 60, 120, 180],
    "MAX_PAGE_SIZE": 100,
    "IMPORT_MAX_UPLOAD_BYTES": 20 * 2**20,
    # Note: an Anki collection of 50,000 notes is 30-60 MB unpacked; media are counted, never unpacked.
    "IMPORT_MAX_COLLECTION_BYTES": 100 * 2**20,
    "IMPORT_MAX_NOTES": 50_000,
    "IMPORT_PROGRESS_TTL_SECONDS": 3600,
    # Note: a change of zone or hour recounts up to this many reviews in its own request, so the
    # next read is exact at once; a longer history goes to a job and the request never waits on it.
    "RECOUNT_INLINE_MAX_REVIEWS": 10_000,
    # Note: the draft and Stripe keep a key 24 hours; a phone retries within minutes.
    "IDEMPOTENCY_KEY_HOURS": 24,
    "IDEMPOTENCY_WAIT_SECONDS": 5,
    # Note: Anki's default leech threshold: a card forgotten this often once learned costs more
    # reviews than it is worth, and wants rewriting rather than more drilling.
    "LEECH_LAPSES": 8,
    # FSRS (review.scheduling): Anki's default steps, the package's own maximum interval.
    "FSRS_LEARNING_STEPS_MINUTES": [1, 10],
    "FSRS_RELEARNING_STEPS_MINUTES": [10],
    "FSRS_MAXIMUM_INTERVAL_DAYS": 36500,
    "FSRS_FUZZ": True,
}


def resee_setting(name: str) -> Any:
    return {**DEFAULTS, **getattr(settings, "RESEE", {})}[name]


def review_intervals() -> list[int]:
    raw = resee_setting("REVIEW_INTERVAL_DAYS")
    try:
        days = [int(d) for d in raw]
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"RESEE['REVIEW_INTERVAL_DAYS']={raw!r} must be integers.") from None
    if not days or days[0] < 1 or any(b <= a for a, b in itertools.pairwise(days)):
        raise ImproperlyConfigured(f"RESEE['REVIEW_INTERVAL_DAYS']={days} must be positive and strictly increasing.")
    return days


def leech_lapses() -> int:
    """The lapses that make a card a leech (`RESEE["LEECH_LAPSES"]`), a positive integer."""
    raw = resee_setting("LEECH_LAPSES")
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
        raise ImproperlyConfigured(f"RESEE['LEECH_LAPSES']={raw!r} must be a positive integer.")
    return raw


def fsrs_steps(name: str) -> list[int]:
    """FSRS's learning or relearning steps (`name`), in minutes: positive integers, possibly none."""
    raw = resee_setting(name)
    try:
        minutes = [int(m) for m in raw]
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"RESEE[{name!r}]={raw!r} must be integers (minutes).") from None
    if any(m < 1 for m in minutes):
        raise ImproperlyConfigured(f"RESEE[{name!r}]={minutes} must be positive.")
    return minutes
