"""The learner's day (utils.clock.learner_date, next_rollover), across daylight-saving changes."""

from datetime import UTC, date, datetime, timedelta

import pytest

from utils.clock import learner_date, next_rollover

NEW_YORK = {"zone": "America/New_York", "day_starts_at_hour": 2}


@pytest.mark.parametrize(
    "moment, day",
    [
        (datetime(2024, 3, 10, 6, 59, tzinfo=UTC), date(2024, 3, 9)),  # 01:59 EST
        (datetime(2024, 3, 10, 7, 0, tzinfo=UTC), date(2024, 3, 10)),  # 03:00 EDT: 02:00 was skipped
        (datetime(2024, 11, 3, 5, 59, tzinfo=UTC), date(2024, 11, 2)),  # 01:59 EDT
        (datetime(2024, 11, 3, 6, 30, tzinfo=UTC), date(2024, 11, 2)),  # 01:30 EST, the second time
        (datetime(2024, 11, 3, 7, 0, tzinfo=UTC), date(2024, 11, 3)),  # 02:00 EST
    ],
)
def test_the_learners_day_follows_the_wall_clock_of_their_zone(moment, day):
    assert learner_date(moment, **NEW_YORK) == day


@pytest.mark.parametrize(
    "moment, rollover",
    [
        (datetime(2024, 3, 9, 12, 0, tzinfo=UTC), datetime(2024, 3, 10, 7, 0, tzinfo=UTC)),  # a 23-hour day
        (datetime(2024, 3, 10, 7, 0, tzinfo=UTC), datetime(2024, 3, 11, 6, 0, tzinfo=UTC)),
        (datetime(2024, 11, 2, 12, 0, tzinfo=UTC), datetime(2024, 11, 3, 7, 0, tzinfo=UTC)),  # a 25-hour day
    ],
)
def test_the_next_rollover_is_the_first_instant_of_the_next_day(moment, rollover):
    assert next_rollover(moment, **NEW_YORK) == rollover
    assert learner_date(rollover, **NEW_YORK) == learner_date(moment, **NEW_YORK) + timedelta(days=1)
    assert learner_date(rollover - timedelta(microseconds=1), **NEW_YORK) == learner_date(moment, **NEW_YORK)


@pytest.mark.parametrize(
    "zone, moment, day",
    [
        ("Pacific/Kiritimati", datetime(2024, 3, 9, 14, 0, tzinfo=UTC), date(2024, 3, 10)),  # 04:00 at UTC+14
        ("Pacific/Pago_Pago", datetime(2024, 3, 10, 14, 59, tzinfo=UTC), date(2024, 3, 9)),  # 03:59 at UTC-11
    ],
)
def test_learners_far_apart_have_days_a_whole_date_apart(zone, moment, day):
    assert learner_date(moment, zone=zone, day_starts_at_hour=4) == day
