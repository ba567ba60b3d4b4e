"""A card on its learning steps in the cached today list, end to end: the entry computed before the
card's moment ends at that moment, with no write, and the next request shows the card; with the
clock moved (`now` and `timestamp` together), with a real wait, through the L1, and never from a
stale entry while another request recomputes."""

import time
from datetime import datetime, timedelta

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.selectors import learner_of
from review.models import ReviewSchedule, State
from tests.helpers import (
    HIT,
    MISS,
    NOW,
    Clock,
    fetch,
    make_card,
    set_learner,
    titles,
    token_of,
    uncached,
    warm,
)
from utils import clock
from utils.cache_utils import l1, singleflight, store
from utils.cache_utils.conf import STATS as STATS_NAMESPACE
from utils.cache_utils.conf import TODAY as TODAY_NAMESPACE

MINUTE = timedelta(minutes=1)
SHARED = {"shared": True}


@pytest.fixture
def moment():
    held = Clock(NOW)
    with clock.use(now=lambda: held.now, timestamp=lambda: held.now.timestamp()):
        yield held


def stepping(who, title: str, *, due_at: datetime, state: State = State.LEARNING):
    """A card on its steps, due at `due_at` (its day the learner's day of that moment)."""
    card = make_card(who, title)
    day = learner_of(user_id=who.user.id).day_of(due_at)
    ReviewSchedule.objects.filter(content=card).update(
        state=state, due_at=due_at, next_review_date=day, initial_review_completed=True, step=0
    )
    return card


def until_of_shared(who) -> float:
    return store.lookup(user_id=who.user.id, namespace=TODAY_NAMESPACE, params=SHARED).until


def test_a_learning_card_due_in_a_minute_joins_the_cached_list_once_due_with_no_write(alice, moment):
    make_card(alice, "new")
    stepping(alice, "step", due_at=NOW + MINUTE)
    assert titles(warm(alice, "today")) == ["new"]
    assert until_of_shared(alice) == (NOW + MINUTE).timestamp()
    token = token_of(alice.user.id, TODAY_NAMESPACE)

    moment.advance(seconds=59)
    assert titles(fetch(alice, "today", cache=HIT)) == ["new"]
    moment.advance(seconds=1)
    after = fetch(alice, "today", cache=MISS)

    assert titles(after) == ["step", "new"]
    assert token_of(alice.user.id, TODAY_NAMESPACE) == token  # the entry ended: nothing bumped it
    assert after.json() == uncached(alice, "today").json()
    assert fetch(alice, "today", cache=HIT).content == after.content


def test_the_cached_stats_count_a_learning_card_as_due_once_its_moment_has_passed_with_no_write(alice, moment):
    stepping(alice, "step", due_at=NOW + MINUTE)
    assert warm(alice, "stats").json()["summary"]["due"] == 0
    token = token_of(alice.user.id, STATS_NAMESPACE)

    moment.advance(minutes=1)
    after = fetch(alice, "stats", cache=MISS)

    assert after.json()["summary"]["due"] == 1
    assert token_of(alice.user.id, STATS_NAMESPACE) == token
    assert after.json() == uncached(alice, "stats").json()


def test_a_page_past_the_shared_entry_ends_at_the_moment_too(alice, moment):
    set_learner(alice, new_cards_per_day=500, reviews_per_day=500)
    stepping(alice, "step", due_at=NOW + MINUTE)
    params = {"page_size": 100, "page": 3}  # past what the shared entry holds: an entry of its own
    for n in range(201):
        make_card(alice, f"card {n:03}")
    warm(alice, "today", params)

    moment.advance(minutes=1)
    after = fetch(alice, "today", params, cache=MISS)

    assert after.json() == uncached(alice, "today", params).json()
    assert after.json()["count"] == 202


def test_the_entry_ends_at_the_next_moment_among_several_and_at_the_rollover_before_a_later_one(alice, moment):
    set_learner(alice, time_zone="UTC", day_starts_at_hour=4)
    stepping(alice, "later", due_at=NOW + 10 * MINUTE)
    stepping(alice, "sooner", due_at=NOW + 3 * MINUTE, state=State.RELEARNING)
    stepping(alice, "tomorrow", due_at=NOW + timedelta(hours=17))  # 05:00, after the 04:00 rollover
    stepping(alice, "due already", due_at=NOW - MINUTE)
    warm(alice, "today")
    assert until_of_shared(alice) == (NOW + 3 * MINUTE).timestamp()

    moment.advance(minutes=10)
    assert titles(fetch(alice, "today", cache=MISS)) == ["due already", "sooner", "later"]

    rollover = datetime.combine(NOW.date() + timedelta(days=1), datetime.min.time(), tzinfo=NOW.tzinfo)
    assert until_of_shared(alice) == (rollover + timedelta(hours=4)).timestamp()


def test_a_paused_learning_card_does_not_end_the_entry(alice, moment):
    card = stepping(alice, "paused", due_at=NOW + MINUTE)
    ReviewSchedule.objects.filter(content=card).update(is_active=False)
    warm(alice, "today")

    moment.advance(minutes=2)

    assert titles(fetch(alice, "today", cache=HIT)) == []


def test_an_entry_past_a_learning_moment_is_never_served_stale_while_another_request_recomputes(alice, moment):
    stepping(alice, "step", due_at=NOW + MINUTE)
    warm(alice, "today")
    version = token_of(alice.user.id, TODAY_NAMESPACE)
    lock = store.lock_key(alice.user.id, TODAY_NAMESPACE, version, SHARED)
    assert singleflight.acquire(lock, ttl_ms=60_000) is not None  # another request recomputes

    moment.advance(minutes=1, seconds=5)  # within the stale window of an expiry alone
    with override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "LOCK_WAIT_MS": 50}):
        after = fetch(alice, "today", cache=MISS)

    assert titles(after) == ["step"]


def test_the_l1_does_not_serve_its_copy_past_a_learning_moment(alice, moment):
    stepping(alice, "step", due_at=NOW + MINUTE)
    with override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "L1_ENABLED": True}):
        deadline = time.monotonic() + 5
        while l1.local_cache() is None:  # the L1 serves once subscribed to the bumps
            assert time.monotonic() < deadline, "the L1 subscriber never subscribed"
            time.sleep(0.01)
        assert titles(warm(alice, "today")) == []

        moment.advance(minutes=1)

        assert titles(fetch(alice, "today", cache=MISS)) == ["step"]


def joins_after_a_real_wait(client) -> None:
    """A card due two seconds from now (the real clocks) is absent from the cached list, then
    there without a write once the moment has passed."""
    due_at = clock.now() + timedelta(seconds=2)
    stepping(client, "soon", due_at=due_at)
    assert titles(warm(client, "today")) == []
    token = token_of(client.user.id, TODAY_NAMESPACE)

    time.sleep(max(0.0, (due_at - clock.now()).total_seconds()) + 0.05)
    after = fetch(client, "today", cache=MISS)

    assert titles(after) == ["soon"]
    assert token_of(client.user.id, TODAY_NAMESPACE) == token


def test_a_learning_card_joins_the_cached_list_after_a_real_wait(alice):
    joins_after_a_real_wait(alice)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_learning_card_joins_the_cached_list_after_a_real_wait_on_the_real_servers(make_client):
    joins_after_a_real_wait(make_client("alice"))
