"""The four grades on the ladder: what each does to the card, what it counts as, and what the
history keeps of the card before it."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from review.models import Grade, ReviewHistory, ReviewSchedule, State
from review.services import review_complete
from tests.helpers import NOW, TODAY, days, history_of, make_card, make_history, schedule_of
from utils.conf import review_intervals


@pytest.mark.parametrize(
    ("result", "step"),
    [("again", 0), ("forgot", 0), ("hard", 2), ("partial", 2), ("good", 3), ("remembered", 3), ("easy", 4)],
)
def test_each_grade_moves_a_learned_card_as_its_older_word_does_and_easy_climbs_two(make_user, result, step):
    user = make_user("carol")
    card = make_card(user, step=2, initial=True)

    schedule = review_complete(user_id=user.id, content_id=card.id, result=result, now=NOW)

    assert (schedule.interval_step, schedule.next_review_date) == (step, TODAY + days(review_intervals()[step]))
    assert schedule_of(card).interval_step == step


def test_easy_on_the_rung_below_the_top_stops_at_the_top(make_user):
    user = make_user("carol")
    top = len(review_intervals()) - 1
    card = make_card(user, step=top - 1, initial=True)

    assert review_complete(user_id=user.id, content_id=card.id, result="easy", now=NOW).interval_step == top


def test_history_keeps_the_word_sent_and_the_grade_it_counts_as(make_user):
    user = make_user("carol")
    card = make_card(user)
    for word in ("partial", "easy", "forgot", "good"):
        review_complete(user_id=user.id, content_id=card.id, result=word, now=NOW)

    rows = history_of(user)

    assert [(row.result, row.grade, row.scheduler) for row in rows] == [
        ("partial", Grade.HARD, "ladder"),
        ("easy", Grade.EASY, "ladder"),
        ("forgot", Grade.AGAIN, "ladder"),
        ("good", Grade.GOOD, "ladder"),
    ]


def test_counts_separate_passes_from_remembered_and_lapses_from_first_failures(make_user):
    user = make_user("carol")
    card = make_card(user)
    for word in ("again", "hard", "again", "good", "easy", "again"):
        review_complete(user_id=user.id, content_id=card.id, result=word, now=NOW)

    schedule = schedule_of(card)

    # the first again is on a new card: not a lapse; hard passes but is not remembered
    assert (schedule.reviews, schedule.recalled, schedule.remembered, schedule.lapses) == (6, 3, 2, 2)
    assert (schedule.state, schedule.last_review_at) == (State.REVIEW, NOW)


def test_each_history_row_keeps_the_schedule_as_it_was_before_its_answer(make_user):
    user = make_user("carol")
    card = make_card(user, step=1, initial=True, due=TODAY)
    before = ReviewSchedule.objects.get(content=card)

    review_complete(user_id=user.id, content_id=card.id, result="good", now=NOW)
    review_complete(user_id=user.id, content_id=card.id, result="again", now=NOW + days(3))

    first, second = history_of(user)
    assert first.prior["interval_step"] == 1
    assert first.prior["next_review_date"] == TODAY.isoformat()
    assert (first.prior["reviews"], first.prior["last_review_at"]) == (before.reviews, None)
    assert second.prior["interval_step"] == 2
    assert second.prior["last_review_at"] == NOW.isoformat()
    assert set(second.prior) == set(ReviewSchedule.SCHEDULING_FIELDS)


def test_a_review_recorded_from_elsewhere_counts_its_grade_and_keeps_no_prior(make_user):
    user = make_user("carol")
    card = make_card(user)

    make_history(user, card, "hard", at=NOW - days(1))

    assert (schedule_of(card).reviews, schedule_of(card).recalled, schedule_of(card).remembered) == (1, 1, 0)
    assert [(row.grade, row.prior) for row in history_of(user)] == [(Grade.HARD, None)]


def test_the_migration_to_four_grades_counts_passes_and_lapses_already_in_the_history(transactional_db, make_user):
    user = make_user("carol")
    learned, fresh = make_card(user), make_card(user)
    for n, word in enumerate(("forgot", "remembered", "forgot", "partial", "forgot")):
        make_history(user, learned, word, at=NOW - days(10 - n))
    ReviewSchedule.objects.filter(content=learned).update(initial_review_completed=True)
    ReviewSchedule.objects.update(recalled=0, lapses=0, state=State.NEW, last_review_at=None)
    executor = MigrationExecutor(connection)
    executor.migrate([("review", "0002_schedule_counts")])
    executor.loader.build_graph()

    executor.migrate(executor.loader.graph.leaf_nodes())  # 0003 and on: later tests need the whole schema

    schedule = schedule_of(learned)
    assert (schedule.recalled, schedule.lapses, schedule.state) == (2, 2, State.REVIEW)
    assert schedule.last_review_at == NOW - days(6)
    assert (schedule_of(fresh).state, schedule_of(fresh).last_review_at) == (State.NEW, None)
    assert sorted(ReviewHistory.objects.values_list("grade", flat=True)) == [1, 1, 1, 2, 3]
