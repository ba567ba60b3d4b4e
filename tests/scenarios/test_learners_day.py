"""Each learner's own day, end to end: learners at UTC+14 (Pacific/Kiritimati), UTC-11
(Pacific/Pago_Pago) and in New York with the day starting at 02:00 across the spring change
(10 March 2024, when 02:00 EST is 03:00 EDT) see their own today, tallies and streaks; their cached
answers turn over at their own rollover with no write, and a change of zone with the next request.
The clock is moved whole: `now` and `timestamp` together."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.test import override_settings

from tests.helpers import (
    HIT,
    MISS,
    api_complete,
    create_content,
    fetch,
    make_card,
    set_learner,
    token_of,
    uncached,
    warm,
)
from utils import clock
from utils.cache_utils import singleflight, store
from utils.cache_utils.conf import TODAY as TODAY_NAMESPACE

LEARNERS = {
    # zone, hour the day starts at, its first instant on 10 March 2024 (UTC)
    "kiri": ("Pacific/Kiritimati", 4, datetime(2024, 3, 9, 14, 0, tzinfo=UTC)),
    "pago": ("Pacific/Pago_Pago", 4, datetime(2024, 3, 10, 15, 0, tzinfo=UTC)),
    # 02:00 EST does not exist that night: the day starts when the clocks jump, 07:00 UTC.
    "nyc": ("America/New_York", 2, datetime(2024, 3, 10, 7, 0, tzinfo=UTC)),
}
MARCH_9, MARCH_10, MARCH_11 = date(2024, 3, 9), date(2024, 3, 10), date(2024, 3, 11)
MINUTE = timedelta(minutes=1)


class Moment:
    """The moment both clocks answer; tests move `.now`."""

    def __init__(self, now: datetime):
        self.now = now


@pytest.fixture
def moment():
    held = Moment(datetime(2024, 3, 9, 12, 0, tzinfo=UTC))
    with clock.use(now=lambda: held.now, timestamp=lambda: held.now.timestamp()):
        yield held


@pytest.fixture
def learner(make_client):
    def make(name: str):
        client = make_client(name)
        zone, hour, _ = LEARNERS[name]
        set_learner(client, time_zone=zone, day_starts_at_hour=hour)
        return client

    return make


def due_dates(response) -> set[date]:
    return {date.fromisoformat(item["next_review_date"]) for item in response.json()["results"]}


def cards_due_around_the_change(client) -> None:
    for day in (MARCH_9, MARCH_10, MARCH_11):
        make_card(client, day.isoformat(), due=day)


@pytest.mark.parametrize("name", LEARNERS)
def test_todays_list_turns_over_at_the_learners_own_rollover_with_no_write(learner, moment, name):
    client, rollover = learner(name), LEARNERS[name][2]
    moment.now = rollover - MINUTE
    cards_due_around_the_change(client)
    before = warm(client, "today")
    assert due_dates(before) == {MARCH_9}

    moment.now = rollover + MINUTE
    after = fetch(client, "today", cache=MISS)

    assert due_dates(after) == {MARCH_9, MARCH_10}
    assert after.json() == uncached(client, "today").json()
    assert fetch(client, "today", cache=HIT).content == after.content


@pytest.mark.parametrize("name", LEARNERS)
def test_an_entry_lives_until_the_learners_next_rollover_and_no_longer(learner, moment, name):
    client, rollover = learner(name), LEARNERS[name][2]
    moment.now = rollover - timedelta(hours=3)
    warm(client, "today")

    entry = store.lookup(user_id=client.user.id, namespace=TODAY_NAMESPACE, params={"shared": True})

    assert entry.until == rollover.timestamp()
    assert entry.expires_at <= rollover.timestamp()


def test_three_learners_at_one_moment_see_three_todays(learner, moment):
    clients = {name: learner(name) for name in LEARNERS}
    for client in clients.values():
        cards_due_around_the_change(client)
    # 07:30 UTC on 10 March: 21:30 on 10 March at UTC+14, 20:30 on 9 March at UTC-11, 03:30 EDT
    # (the day starting at 02:00) on 10 March in New York.
    moment.now = datetime(2024, 3, 10, 7, 30, tzinfo=UTC)

    seen = {name: due_dates(fetch(client, "today")) for name, client in clients.items()}

    assert seen == {"kiri": {MARCH_9, MARCH_10}, "pago": {MARCH_9}, "nyc": {MARCH_9, MARCH_10}}


@pytest.mark.parametrize("name", LEARNERS)
def test_reviews_count_on_the_learners_days_and_make_their_streak(learner, moment, name):
    client, rollover = learner(name), LEARNERS[name][2]
    first, second = create_content(client, "first"), create_content(client, "second")
    moment.now = rollover - timedelta(minutes=30)
    api_complete(client, first["id"])
    assert warm(client, "stats").json()["reviews_today"] == 1

    moment.now = rollover + timedelta(minutes=30)
    api_complete(client, second["id"])
    stats = fetch(client, "stats", cache=MISS).json()

    assert (stats["reviews_today"], stats["current_streak_days"]) == (1, 2)
    assert stats["reviews_per_day"][-2:] == [
        {"date": MARCH_9.isoformat(), "reviews": 1},
        {"date": MARCH_10.isoformat(), "reviews": 1},
    ]
    assert stats == uncached(client, "stats").json()


def test_the_stats_turn_over_at_the_rollover_with_no_write(learner, moment):
    client, rollover = learner("nyc"), LEARNERS["nyc"][2]
    moment.now = rollover - timedelta(hours=1)
    api_complete(client, create_content(client, "late")["id"])
    assert warm(client, "stats").json()["reviews_today"] == 1

    moment.now = rollover
    stats = fetch(client, "stats", cache=MISS).json()

    assert (stats["reviews_today"], stats["current_streak_days"]) == (0, 1)
    assert stats["reviews_per_day"][-1] == {"date": MARCH_10.isoformat(), "reviews": 0}


def test_a_change_of_zone_is_seen_by_the_next_request(learner, moment):
    client = learner("pago")
    cards_due_around_the_change(client)
    moment.now = datetime(2024, 3, 10, 7, 30, tzinfo=UTC)
    assert due_dates(warm(client, "today")) == {MARCH_9}

    response = client.patch("/api/auth/me/", {"time_zone": "Pacific/Kiritimati"})
    assert response.status_code == 200, response.content
    after = fetch(client, "today", cache=MISS)

    assert due_dates(after) == {MARCH_9, MARCH_10}
    assert after.json() == uncached(client, "today").json()


def test_a_change_of_zone_moves_past_reviews_to_the_days_they_now_fall_on(learner, moment):
    client = learner("kiri")
    moment.now = datetime(2024, 3, 10, 7, 30, tzinfo=UTC)  # 21:30 on 10 March at UTC+14
    api_complete(client, create_content(client, "evening")["id"])
    assert warm(client, "stats").json()["reviews_per_day"][-1] == {"date": MARCH_10.isoformat(), "reviews": 1}

    client.patch("/api/auth/me/", {"time_zone": "Pacific/Pago_Pago"})
    stats = fetch(client, "stats", cache=MISS).json()

    # 20:30 on 9 March at UTC-11, which is today there
    assert stats["reviews_per_day"][-1] == {"date": MARCH_9.isoformat(), "reviews": 1}
    assert stats["reviews_today"] == 1


def test_an_entry_past_the_rollover_is_never_served_stale_while_another_request_recomputes(learner, moment):
    client, rollover = learner("kiri"), LEARNERS["kiri"][2]
    moment.now = rollover - MINUTE
    cards_due_around_the_change(client)
    warm(client, "today")
    version = token_of(client.user.id, TODAY_NAMESPACE)
    lock = store.lock_key(client.user.id, TODAY_NAMESPACE, version, {"shared": True})
    assert singleflight.acquire(lock, ttl_ms=60_000) is not None  # another request recomputes

    moment.now = rollover + timedelta(seconds=5)  # within the stale window of an expiry alone
    with override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "LOCK_WAIT_MS": 50}):
        after = fetch(client, "today", cache=MISS)

    assert due_dates(after) == {MARCH_9, MARCH_10}
