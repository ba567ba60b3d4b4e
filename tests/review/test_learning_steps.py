"""Cards on their learning or relearning steps in today's list (review.selectors): due at a
moment, shown once it has passed, first and by their moment, never held back by the daily
limits; other cards due on the learner's day. The cached answer's end is in
tests/scenarios/test_learning_steps.py."""

from datetime import datetime, timedelta

from accounts.selectors import learner_of
from review.models import ReviewHistory, ReviewSchedule, State
from tests.helpers import NOW, TODAY, days, make_card, make_category, make_history, set_learner, today_list

MINUTE = timedelta(minutes=1)


def stepping(who, title: str, *, due_at: datetime, state: State = State.LEARNING, **fields):
    """A card on its steps, due at `due_at` (its day the learner's day of that moment)."""
    card = make_card(who, title, **fields)
    day = learner_of(user_id=who.user.id).day_of(due_at)
    ReviewSchedule.objects.filter(content=card).update(
        state=state, due_at=due_at, next_review_date=day, initial_review_completed=True, step=0
    )
    return card


def shown(client, **params) -> list[str]:
    response = today_list(client, page_size=100, **params)
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["results"]]


def reviewed_before(who, title: str, *, due=TODAY):
    """A review card due `due`, first reviewed on an earlier day."""
    card = make_card(who, title, due=due, initial=True, step=1)
    ReviewSchedule.objects.filter(content=card).update(state=State.REVIEW)
    make_history(who, card, at=NOW - days(3))
    return card


def test_a_learning_card_is_not_shown_before_its_moment_and_is_once_it_has_passed(alice, clock):
    stepping(alice, "step", due_at=NOW + MINUTE)
    assert shown(alice) == []

    clock.advance(minutes=1)

    assert shown(alice) == ["step"]


def test_a_relearning_card_due_tomorrow_morning_before_the_rollover_is_not_shown_today(alice):
    # 02:00 tomorrow is still today in a day that starts at 04:00: its day has come, its moment not.
    tomorrow_night = datetime.combine(TODAY + days(1), datetime.min.time(), tzinfo=NOW.tzinfo) + timedelta(hours=2)
    card = stepping(alice, "forgotten", due_at=tomorrow_night, state=State.RELEARNING)
    assert ReviewSchedule.objects.get(content=card).next_review_date == TODAY

    assert shown(alice) == []


def test_a_review_card_due_later_today_is_shown_from_the_start_of_its_day(alice):
    card = make_card(alice, "later today", due=TODAY, initial=True)
    ReviewSchedule.objects.filter(content=card).update(state=State.REVIEW, due_at=NOW + timedelta(hours=6))

    assert shown(alice) == ["later today"]


def test_a_learning_card_without_a_moment_is_due_on_its_day(alice):
    card = make_card(alice, "no moment", due=TODAY, initial=True)
    ReviewSchedule.objects.filter(content=card).update(state=State.LEARNING, due_at=None)

    assert shown(alice) == ["no moment"]


def test_due_learning_cards_come_first_by_their_moment(alice):
    make_card(alice, "new")
    reviewed_before(alice, "review", due=TODAY - days(1))
    stepping(alice, "second step", due_at=NOW - MINUTE)
    stepping(alice, "first step", due_at=NOW - 2 * MINUTE, state=State.RELEARNING)

    assert shown(alice) == ["first step", "second step", "review", "new"]


def test_items_carry_the_cards_state_and_its_moment(alice):
    stepping(alice, "step", due_at=NOW - MINUTE)
    make_card(alice, "new")

    items = today_list(alice).json()["results"]

    assert [(item["state"], item["due_at"]) for item in items] == [
        ("learning", (NOW - MINUTE).isoformat().replace("+00:00", "Z")),
        ("new", None),
    ]


def test_a_learner_past_the_review_limit_still_sees_a_due_learning_card(alice):
    set_learner(alice, reviews_per_day=1)
    reviewed_before(alice, "held back")
    done = reviewed_before(alice, "done today")
    make_history(alice, done, at=NOW - timedelta(hours=1))
    make_card(alice, "new")
    stepping(alice, "step", due_at=NOW - MINUTE)

    assert shown(alice) == ["step"]
    assert today_list(alice).json()["count"] == 1


def test_learning_cards_take_no_room_of_the_review_or_the_new_card_limit(alice):
    set_learner(alice, reviews_per_day=2, new_cards_per_day=1)
    for n in range(3):
        stepping(alice, f"step {n}", due_at=NOW - MINUTE * (3 - n))
    reviewed_before(alice, "review")
    make_card(alice, "new")

    assert shown(alice) == ["step 0", "step 1", "step 2", "review", "new"]


def test_answers_on_the_steps_use_up_no_review_room(alice):
    set_learner(alice, reviews_per_day=1)
    card = stepping(alice, "stepping since yesterday", due_at=NOW + timedelta(hours=1))
    make_history(alice, card, at=NOW - days(1))
    for hours in (2, 1):
        ReviewHistory.objects.create(
            user_id=alice.user.id,
            content=card,
            result="good",
            reviewed_at=NOW - timedelta(hours=hours),
            prior={"state": int(State.LEARNING)},
        )
    reviewed_before(alice, "review")

    assert shown(alice) == ["review"]


def test_the_category_counts_take_a_learning_card_once_it_is_due(alice, clock):
    words = make_category(alice, "Words", "words")
    stepping(alice, "step", due_at=NOW + MINUTE, category=words)
    make_card(alice, "loose")
    assert today_list(alice, category_slug="words").json()["count"] == 0

    clock.advance(minutes=1)

    body = today_list(alice, category_slug="words").json()
    assert (body["count"], [item["title"] for item in body["results"]]) == (1, ["step"])
    assert today_list(alice).json()["count"] == 2


def test_a_card_answered_today_on_its_steps_only_gives_no_extra_review_room(alice):
    set_learner(alice, reviews_per_day=1)
    card = stepping(alice, "imported onto its steps", due_at=NOW + timedelta(hours=1))
    for hours in (2, 1):
        ReviewHistory.objects.create(
            user_id=alice.user.id,
            content=card,
            result="good",
            reviewed_at=NOW - timedelta(hours=hours),
            prior={"state": int(State.LEARNING)},
        )
    reviewed_before(alice, "first review")
    reviewed_before(alice, "second review")

    assert shown(alice) == ["first review"]
