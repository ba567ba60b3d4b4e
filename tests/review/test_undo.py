"""POST /api/review/undo/ and review.services.review_undo: the learner's most recent answer taken
back, every answer the API gives as it was before it; answers before it one undo at a time, up to
UNDO_DEPTH answers back and within UNDO_WINDOW; nothing else."""

from datetime import timedelta

import pytest

from analytics.models import DayTally
from analytics.selectors import current_streak
from analytics.services import days_rebuild
from content.services import content_delete
from review.models import ReviewSchedule, State
from review.services import UNDO_DEPTH, NothingToUndo, review_complete, review_undo, schedule_set_active
from tests.helpers import (
    HIT,
    MISS,
    NOW,
    TODAY,
    URLS,
    committed,
    complete,
    days,
    fetch,
    history_of,
    make_card,
    make_category,
    make_history,
    run_in_threads,
    schedule_of,
    set_learner,
    uncached,
    warm,
)

UNDO = "/api/review/undo/"


def undo(client, **headers):
    return client.post(UNDO, **headers)


def answer(who, card, result: str = "good", **moment):
    """A completion made through the service, `moment` after the clock (e.g. minutes=-5)."""
    from utils import clock

    return review_complete(
        user_id=getattr(who, "user", who).id,
        content_id=card.id,
        result=result,
        now=clock.now() + timedelta(**moment),
    )


# --- Every answer as it was --------------------------------------------------------------------------


CACHED_READS = [
    ("today", {}),
    ("today", {"page_size": "1"}),
    ("today", {"page_size": "1", "page": "2"}),
    ("today", {"category_slug": "langs"}),
    ("stats", {}),
    ("content", {}),
]


def every_answer(client, schedule_id: int) -> dict:
    """What each endpoint a learner's screens read answers: the cached ones as served (warmed to a
    HIT, and checked against the cache-off compute), the others as they come."""
    answers = {}
    for endpoint, params in CACHED_READS:
        served = warm(client, endpoint, params).json()
        assert served == uncached(client, endpoint, params).json(), (endpoint, params)
        answers[URLS[endpoint], tuple(params.items())] = served
    for url in ["/api/review/schedules/", f"/api/review/schedules/{schedule_id}/", "/api/review/history/"]:
        answers[url] = client.get(url).json()
    answers["me"] = client.get("/api/auth/me/").json()
    return answers


@pytest.fixture
def studied(alice, clock):
    """Alice's cards in a category and out of it, a review yesterday and one today, so that
    today's list, its pages, the stats (streak, per day, per category) all have something to show."""
    langs = make_category(alice, "Languages", "langs")
    cards = {
        "hola": make_card(alice, "hola", category=langs),
        "bonjour": make_card(alice, "bonjour", category=langs),
        "ciao": make_card(alice, "ciao", category=langs),
        "pi": make_card(alice, "pi"),
    }
    with committed():
        answer(alice, cards["pi"], "good", hours=-23)
        answer(alice, cards["bonjour"], "hard", minutes=-30)
    return cards


def test_an_undo_brings_every_answer_back_to_what_it_was_before_the_answer(alice, studied):
    hola = schedule_of(studied["hola"])
    before = every_answer(alice, hola.id)
    assert len(before["/api/review/history/"]["results"]) == 2  # guards against comparing empty answers

    answered = complete(alice, studied["hola"], "easy")
    assert answered.status_code == 200, answered.content
    after_answer = every_answer(alice, hola.id)  # the cache now holds what the answer changed
    assert after_answer != before
    undone = undo(alice)

    assert undone.status_code == 200, undone.content
    assert every_answer(alice, hola.id) == before
    assert undone.json()["schedule"] == before[f"/api/review/schedules/{hola.id}/"]
    assert undone.json()["undone"]["id"] == after_answer["/api/review/history/"]["results"][0]["id"]
    assert (undone.json()["undone"]["content_id"], undone.json()["undone"]["result"]) == (studied["hola"].id, "easy")


@pytest.fixture
def on_fsrs(alice):
    set_learner(alice, scheduler="fsrs")


def test_an_fsrs_learners_undo_brings_every_answer_and_the_cards_memory_back(on_fsrs, alice, studied):
    hola = schedule_of(studied["hola"])
    fields = [name for name in ReviewSchedule.SCHEDULING_FIELDS if name != "updated_at"]
    row_before = {name: getattr(hola, name) for name in fields}
    before = every_answer(alice, hola.id)

    assert complete(alice, studied["hola"], "good").status_code == 200
    moved = schedule_of(studied["hola"])
    undone = undo(alice)

    assert (moved.state, moved.step) == (State.LEARNING, 1) and moved.stability is not None
    assert undone.status_code == 200, undone.content
    assert every_answer(alice, hola.id) == before
    restored = schedule_of(studied["hola"])
    assert {name: getattr(restored, name) for name in fields} == row_before
    assert (restored.state, restored.stability, restored.due_at) == (State.NEW, None, None)


def test_after_an_undo_the_stale_cached_answers_are_recomputed_and_the_others_still_served(alice, studied):
    hola = schedule_of(studied["hola"])
    every_answer(alice, hola.id)
    complete(alice, studied["hola"], "again")
    every_answer(alice, hola.id)

    undo(alice)

    # Note: today's pages are cut out of one shared entry: its first read is the miss.
    assert [fetch(alice, endpoint, cache=MISS).status_code for endpoint in ("today", "stats")] == [200, 200]
    assert fetch(alice, "content", cache=HIT).status_code == 200
    for endpoint, params in CACHED_READS:
        assert fetch(alice, endpoint, params, cache=HIT).json() == uncached(alice, endpoint, params).json()


def test_the_card_is_restored_to_every_field_its_answer_changed(alice, studied):
    before = ReviewSchedule.objects.filter(pk=schedule_of(studied["bonjour"]).pk).values().get()
    answer(alice, studied["bonjour"], "again")

    review_undo(user_id=alice.user.id)

    assert ReviewSchedule.objects.filter(pk=before["id"]).values().get() == before


# --- Which answer ------------------------------------------------------------------------------------


def test_two_undos_take_back_the_last_two_answers_newest_first(alice, studied):
    first = complete(alice, studied["hola"], "good").json()
    second = complete(alice, studied["ciao"], "again").json()
    history = [row.id for row in history_of(alice)]

    taken = [undo(alice).json()["undone"] for _ in range(2)]

    assert [row["content_id"] for row in taken] == [second["content_id"], first["content_id"]]
    assert [row["id"] for row in taken] == history[-1:-3:-1]
    assert [row.id for row in history_of(alice)] == history[:-2]
    assert schedule_of(studied["hola"]).reviews == schedule_of(studied["ciao"]).reviews == 0


def test_answers_to_one_card_are_taken_back_one_by_one(alice, studied):
    card = studied["hola"]
    steps = []
    for result in ["good", "good", "easy"]:
        steps.append(schedule_of(card).interval_step)
        answer(alice, card, result)

    restored = [review_undo(user_id=alice.user.id).schedule.interval_step for _ in range(3)]

    assert restored == steps[::-1]
    assert (schedule_of(card).reviews, schedule_of(card).initial_review_completed) == (0, False)


def test_an_undo_reaches_back_twenty_answers_and_no_further(alice, studied):
    card = studied["hola"]
    for minute in range(UNDO_DEPTH + 1):
        answer(alice, card, "good", minutes=minute - 60)

    for _ in range(UNDO_DEPTH):
        review_undo(user_id=alice.user.id)

    response = undo(alice)
    assert response.status_code == 409, response.content
    assert response.json()["detail"].startswith("Nothing to undo")
    assert schedule_of(card).reviews == 1  # the oldest of the 21 stays


def test_answers_taken_back_still_count_among_the_last_twenty(alice, studied):
    """Answer, undo, answer again: the answers taken back were made, so they count."""
    card = studied["hola"]
    for minute in range(UNDO_DEPTH - 1):
        answer(alice, card, "good", minutes=minute - 60)
    answer(alice, card, "again")
    review_undo(user_id=alice.user.id)
    answer(alice, card, "hard")

    review_undo(user_id=alice.user.id)
    for _ in range(UNDO_DEPTH - 2):
        review_undo(user_id=alice.user.id)

    with pytest.raises(NothingToUndo):
        review_undo(user_id=alice.user.id)
    assert schedule_of(card).reviews == 1


def test_a_new_answer_after_the_limit_can_be_taken_back(alice, studied):
    card = studied["hola"]
    for minute in range(UNDO_DEPTH + 1):
        answer(alice, card, "good", minutes=minute - 60)
    for _ in range(UNDO_DEPTH):
        review_undo(user_id=alice.user.id)
    answer(alice, studied["ciao"], "easy")

    assert review_undo(user_id=alice.user.id).review.content_id == studied["ciao"].id
    with pytest.raises(NothingToUndo):
        review_undo(user_id=alice.user.id)


def test_an_answer_older_than_a_day_is_not_taken_back(bob):
    card = make_card(bob)
    answer(bob, card, "good", hours=-24, seconds=-1)

    response = undo(bob)

    assert response.status_code == 409, response.content
    assert schedule_of(card).reviews == 1


def test_an_answer_made_just_within_the_day_is_taken_back(bob):
    card = make_card(bob)
    answer(bob, card, "good", hours=-23, minutes=-59)

    assert undo(bob).status_code == 200
    assert schedule_of(card).reviews == 0


def test_with_nothing_answered_an_undo_is_a_409_that_says_so(bob):
    response = undo(bob)

    assert response.status_code == 409, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"].startswith("Nothing to undo")


def test_imported_history_is_never_taken_back(alice, studied):
    make_history(alice, studied["hola"], "remembered", at=NOW - timedelta(minutes=5))
    for _ in range(2):
        review_undo(user_id=alice.user.id)  # the two answers studied made

    with pytest.raises(NothingToUndo):
        review_undo(user_id=alice.user.id)
    assert [row.prior for row in history_of(alice)] == [None]


def test_an_answer_whose_card_has_an_import_recorded_after_it_is_not_taken_back(alice, studied):
    answer(alice, studied["hola"], "good", minutes=-10)
    make_history(alice, studied["hola"], "remembered", at=NOW - days(30))

    response = undo(alice)

    assert response.status_code == 409, response.content
    assert schedule_of(studied["hola"]).reviews == 2


def test_another_users_answers_are_never_touched(alice, bob, studied):
    card = make_card(bob, "bob's")
    answer(bob, card, "good", minutes=-1)
    answer(alice, studied["hola"], "good", minutes=-2)
    bobs = [(row.id, row.undone_after) for row in history_of(bob)]

    taken = [undo(alice).json()["undone"]["content_id"] for _ in range(3)]

    assert taken == [studied["hola"].id, studied["bonjour"].id, studied["pi"].id]
    assert undo(alice).status_code == 409
    assert [(row.id, row.undone_after) for row in history_of(bob)] == bobs
    assert schedule_of(card).reviews == 1


def test_a_card_paused_since_its_answer_is_restored_and_stays_paused(alice, studied):
    before = schedule_of(studied["hola"])
    answer(alice, studied["hola"], "easy")
    schedule_set_active(schedule=schedule_of(studied["hola"]), is_active=False)

    undone = undo(alice)

    restored = schedule_of(studied["hola"])
    assert undone.status_code == 200, undone.content
    assert (restored.interval_step, restored.next_review_date, restored.reviews) == (
        before.interval_step,
        before.next_review_date,
        0,
    )
    assert restored.is_active is False


def test_an_answer_to_a_card_deleted_since_is_gone_with_it_and_the_undo_takes_the_one_before(alice, studied):
    answer(alice, studied["hola"], "easy")
    content_delete(content=studied["hola"])

    assert review_undo(user_id=alice.user.id).review.content_id == studied["bonjour"].id


# --- The request -------------------------------------------------------------------------------------


def test_an_undo_retried_with_its_idempotency_key_takes_back_one_answer(alice, studied):
    first = undo(alice, HTTP_IDEMPOTENCY_KEY="undo-1")
    retry = undo(alice, HTTP_IDEMPOTENCY_KEY="undo-1")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.content == first.content
    assert retry["Idempotent-Replayed"] == "true"
    assert len(history_of(alice)) == 1
    assert undo(alice, HTTP_IDEMPOTENCY_KEY="undo-2").json()["undone"]["content_id"] == studied["pi"].id


def test_an_undo_refuses_a_body_field_and_undoes_nothing(alice, studied):
    response = alice.post(UNDO, {"content_id": studied["bonjour"].id}, format="json")

    assert response.status_code == 400, response.content
    assert response.json() == {"content_id": ["Unknown field."]}
    assert len(history_of(alice)) == 2


def test_an_undo_needs_a_logged_in_user(anon):
    assert anon.post(UNDO).status_code == 401


# --- The day's tally ---------------------------------------------------------------------------------


def tallies(user) -> list[tuple]:
    return list(DayTally.objects.filter(user=user).order_by("day").values_list("day", "reviews", "run_start"))


def test_undoing_a_days_only_answer_removes_the_day_and_the_streak_it_made(alice, studied):
    """studied: pi yesterday, bonjour today: a streak of two; taking back today's leaves one."""
    assert current_streak(user_id=alice.user.id, today=TODAY) == 2

    review_undo(user_id=alice.user.id)

    assert tallies(alice.user) == [(TODAY - days(1), 1, TODAY - days(1))]
    assert current_streak(user_id=alice.user.id, today=TODAY) == 1


def test_undoing_the_only_answer_of_a_day_inside_a_run_splits_the_run(alice, clock):
    """Days D-2, D-1 and D reviewed; D-1's only answer is taken back (D's review was imported, so
    the answer is the most recent): D starts a run of its own, as a recount of the history says."""
    cards = [make_card(alice) for _ in range(3)]
    make_history(alice, cards[0], at=NOW - days(2))
    answer(alice, cards[1], "good", hours=-16)
    make_history(alice, cards[2], at=NOW - timedelta(hours=1))
    assert tallies(alice.user)[-1] == (TODAY, 1, TODAY - days(2))

    review_undo(user_id=alice.user.id)

    split = tallies(alice.user)
    assert split == [(TODAY - days(2), 1, TODAY - days(2)), (TODAY, 1, TODAY)]
    assert current_streak(user_id=alice.user.id, today=TODAY) == 1
    days_rebuild(user_id=alice.user.id)
    assert tallies(alice.user) == split


def test_undoing_one_of_a_days_answers_takes_one_off_its_count(alice, studied):
    answer(alice, studied["hola"], "good")

    review_undo(user_id=alice.user.id)

    assert tallies(alice.user) == [(TODAY - days(1), 1, TODAY - days(1)), (TODAY, 1, TODAY - days(1))]


# --- Concurrent undos (PostgreSQL: row locks) --------------------------------------------------------


@pytest.fixture
def racer(transactional_db, django_user_model):
    return django_user_model.objects.create_user(username="racer", password="x-unused-x")


def undo_in_threads(user, count: int) -> tuple[list, list[BaseException]]:
    taken = []
    errors = run_in_threads(count, lambda: taken.append(review_undo(user_id=user.id).review.id))
    return taken, errors


@pytest.mark.integration
@pytest.mark.parametrize("same_card", [True, False], ids=["one card", "two cards"])
def test_two_simultaneous_undos_take_back_two_different_answers(racer, same_card):
    cards = [make_card(racer, "first"), make_card(racer, "second")]
    answer(racer, cards[0], "good", minutes=-2)
    answer(racer, cards[0 if same_card else 1], "easy", minutes=-1)
    answered = [row.id for row in history_of(racer)]

    taken, errors = undo_in_threads(racer, 2)

    assert errors == []
    assert sorted(taken) == sorted(answered)
    assert history_of(racer) == []
    assert [schedule_of(card).reviews for card in cards] == [0, 0]
    assert tallies(racer) == []


@pytest.mark.integration
def test_of_two_simultaneous_undos_of_one_answer_one_takes_it_back_and_the_other_is_refused(racer):
    card = make_card(racer)
    answer(racer, card, "again")
    (answered,) = [row.id for row in history_of(racer)]

    taken, errors = undo_in_threads(racer, 2)

    assert taken == [answered]
    assert [type(error) for error in errors] == [NothingToUndo]
    assert (schedule_of(card).reviews, tallies(racer)) == (0, [])


@pytest.mark.integration
def test_simultaneous_undos_never_take_back_an_answer_twice_nor_reach_past_the_limit(racer):
    cards = [make_card(racer) for _ in range(3)]
    for minute in range(UNDO_DEPTH + 2):
        answer(racer, cards[minute % 3], "good", minutes=minute - 60)
    answered = [row.id for row in history_of(racer)]

    taken, errors = undo_in_threads(racer, 6)
    for _ in range(UNDO_DEPTH - 6):
        taken.append(review_undo(user_id=racer.id).review.id)

    assert errors == []
    assert sorted(taken) == answered[-UNDO_DEPTH:]
    with pytest.raises(NothingToUndo):
        review_undo(user_id=racer.id)
    assert sum(schedule_of(card).reviews for card in cards) == 2
