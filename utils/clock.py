"""The clock, in one place so tests can move time by patching these functions."""

import time
from datetime import date, datetime

from django.utils import timezone


def now() -> datetime:
    return timezone.now()


def timestamp() -> float:
    """Seconds since the epoch: what the throttle's fixed windows are cut from."""
    return time.time()


def local_date(moment: datetime) -> date:
    """The calendar date of `moment` in settings.TIME_ZONE: what "today" means for every user.
    # Note: the default time zone, not the active one (nothing activates another), which costs a
    # thread-local lookup on every hit."""
    return moment.astimezone(timezone.get_default_timezone()).date()


def local_today() -> date:
    return local_date(now())
