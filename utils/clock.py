"""Time and chance, in one place: the one seam tests swap.

    with clock.use(timestamp=lambda: 1_800_000_000.0, random=Random(7).random):
        ...

`now` is the moment dates and cut-offs are taken from (a learner's today, revocation), `timestamp`
the seconds that entries' lifetimes and throttle windows are measured in, `random` the draw of
early recomputation (XFetch), `sleep` the wait of a request polling for another's result.
"""

import random as _random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from zoneinfo import ZoneInfo

from django.utils import timezone

# Note: plain module attributes, not wrappers: a caller's `clock.now()` reads the attribute at
# call time, so `use` (or a test's monkeypatch) swaps it for every caller, and a cache hit pays no
# Python frame of its own to ask the time.
now: Callable[[], datetime] = timezone.now
timestamp: Callable[[], float] = time.time
random: Callable[[], float] = _random.random
sleep: Callable[[float], None] = time.sleep
_SWAPPABLE = ("now", "timestamp", "random", "sleep")


def local_date(moment: datetime) -> date:
    """The calendar date of `moment` in settings.TIME_ZONE: what "today" means for every user.
    # Note: the default time zone, not the active one (nothing activates another), which costs a
    # thread-local lookup on every hit."""
    return moment.astimezone(timezone.get_default_timezone()).date()


def local_today() -> date:
    return local_date(now())


def learner_date(moment: datetime, *, zone: str, day_starts_at_hour: int) -> date:
    """The learner's day at `moment`: the date of the wall clock of `zone`, less the rollover hours
    (Anki's "next day starts at"). # Note: an aware datetime less a timedelta moves its wall clock,
    not its instant, so a day that a daylight-saving change shortens still turns at the hour."""
    return (moment.astimezone(ZoneInfo(zone)) - timedelta(hours=day_starts_at_hour)).date()


def next_rollover(moment: datetime, *, zone: str, day_starts_at_hour: int) -> datetime:
    """The first instant after `moment` of the learner's next day. # Note: an hour the spring
    change skips (02:00 in New York) reads, as zoneinfo's fold=0 does, with the offset before the
    change: the instant the clocks jump, which is when the wall clock first passes that hour."""
    day = learner_date(moment, zone=zone, day_starts_at_hour=day_starts_at_hour) + timedelta(days=1)
    return day_start(day, zone=zone, day_starts_at_hour=day_starts_at_hour)


def day_start(day: date, *, zone: str, day_starts_at_hour: int) -> datetime:
    """The first instant of the learner's `day` (see `next_rollover` for an hour a change skips),
    in UTC. # Note: a wall time in a gap compares unequal to every instant of another zone (PEP
    495); in UTC it is an ordinary instant."""
    return datetime.combine(day, wall_time(day_starts_at_hour), tzinfo=ZoneInfo(zone)).astimezone(UTC)


@contextmanager
def use(**overrides) -> Iterator[None]:
    """Swap parts of the clock for the block, e.g. `with clock.use(now=lambda: moment):`."""
    if unknown := set(overrides) - set(_SWAPPABLE):
        raise TypeError(f"the clock has no {sorted(unknown)}")
    previous = {name: globals()[name] for name in overrides}
    globals().update(overrides)
    try:
        yield
    finally:
        globals().update(previous)
