"""The counts the stats read (each card's on its schedule, analytics.services' day tallies) hold
what the history holds, whatever order the reviews come in, and the recount (command and
migrations) rebuilds them from the history."""

import random
from collections import Counter
from datetime import date

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from analytics.models import DayTally
from analytics.selectors import stats_for
from content.services import content_delete
from review.models import ReviewHistory, ReviewSchedule
from tests.helpers import NOW, TODAY, days, make_card, make_category, make_history
from utils.clock import local_date


def expected_stats(user, today: date) -> dict:
    """The stats straight from the history rows, the slow way the tallies replace."""
    rows = list(ReviewHistory.objects.filter(user=user).select_related("content__category"))
    remembered = sum(row.result == ReviewHistory.REMEMBERED for row in rows)
    per_day = Counter(local_date(row.reviewed_at) for row in rows)
    streak, end = 0, today if per_day[today] else today - days(1)
    while per_day[end - days(streak)]:
        streak += 1
    categories = Counter()
    for row in rows:
        category = row.content.category
        key = (category.name, category.id) if category else ("", None)
        categories[key, "reviews"] += 1
        categories[key, "remembered"] += row.result == ReviewHistory.REMEMBERED
    return {
        "total_reviews": len(rows),
        "success_rate": round(100 * remembered / len(rows), 1) if rows else None,
        "by_category": sorted(
            (
                key[1] or 0,
                categories[key, "reviews"],
                round(100 * categories[key, "remembered"] / categories[key, "reviews"], 1),
            )
            for key in {key for key, _ in categories}
        ),
        "per_day": [per_day[today - days(29 - i)] for i in range(30)],
        "streak": streak,
    }


def observed_stats(user, today: date) -> dict:
    body = stats_for(user_id=user.id, today=today)
    return {
        "total_reviews": body["total_reviews"],
        "success_rate": body["success_rate"],
        "by_category": sorted(
            (row["category_id"] or 0, row["reviews"], row["success_rate"]) for row in body["success_rate_by_category"]
        ),
        "per_day": [entry["reviews"] for entry in body["reviews_per_day"]],
        "streak": body["current_streak_days"],
    }


def counts_of(user) -> tuple[list, list]:
    cards = ReviewSchedule.objects.filter(owner=user).order_by("content_id")
    cards = cards.values_list("content_id", "reviews", "remembered")
    days_ = DayTally.objects.filter(user=user).order_by("day").values_list("day", "reviews", "run_start")
    return list(cards), list(days_)


@pytest.mark.parametrize("seed", range(6))
def test_reviews_in_any_order_leave_the_tallies_equal_to_the_history(make_user, seed):
    rng = random.Random(seed)
    user = make_user("carol")
    decks = [make_category(user, "Deck A", "a"), make_category(user, "Deck B", "b"), None]
    cards = [make_card(user, f"card {i}", category=decks[i % 3]) for i in range(6)]
    # Note: days in random order, repeats and gaps included, so first reviews of a day land
    # before, after and between runs already counted.
    for _ in range(60):
        moment = (
            NOW - days(rng.choice([0, 0, 1, 2, 3, 5, 6, 7, 9, 10, 20, 29, 30, 45])) + rng.choice([-1, 1]) * days(0.2)
        )
        make_history(user, rng.choice(cards), rng.choice(["remembered", "partial", "forgot"]), at=moment)

    for today in (TODAY, TODAY + days(1), TODAY - days(4)):
        assert observed_stats(user, today) == expected_stats(user, today), today
    counted = counts_of(user)
    call_command("review_counts_rebuild", "--user", str(user.id), verbosity=0)
    assert counts_of(user) == counted


def test_a_first_review_between_two_runs_joins_them_into_one_streak(make_user):
    user = make_user("carol")
    card = make_card(user)
    for n in (0, 1, 3, 4):
        make_history(user, card, at=NOW - days(n))
    assert stats_for(user_id=user.id, today=TODAY)["current_streak_days"] == 2

    make_history(user, card, at=NOW - days(2))

    assert stats_for(user_id=user.id, today=TODAY)["current_streak_days"] == 5
    assert set(DayTally.objects.filter(user=user).values_list("run_start", flat=True)) == {TODAY - days(4)}


def test_deleting_a_card_takes_its_reviews_out_of_the_totals_but_not_out_of_the_days_reviewed(make_user):
    user = make_user("carol")
    kept, deleted = make_card(user, "kept"), make_card(user, "deleted")
    make_history(user, kept, "remembered", at=NOW)
    for n in (1, 2):
        make_history(user, deleted, "forgot", at=NOW - days(n))
    before = stats_for(user_id=user.id, today=TODAY)

    content_delete(content=deleted)

    after = stats_for(user_id=user.id, today=TODAY)
    assert (before["total_reviews"], before["success_rate"]) == (3, 33.3)
    assert (after["total_reviews"], after["success_rate"], after["total_contents"]) == (1, 100.0, 1)
    assert after["current_streak_days"] == before["current_streak_days"] == 3
    assert after["reviews_per_day"] == before["reviews_per_day"]


def test_history_loaded_in_bulk_is_counted_by_the_rebuild_command(make_user):
    carol, dave = make_user("carol"), make_user("dave")
    for user in (carol, dave):
        card = make_card(user)
        ReviewHistory.objects.bulk_create(
            ReviewHistory(user=user, content=card, result="remembered", reviewed_at=NOW - days(n)) for n in range(3)
        )
    assert stats_for(user_id=carol.id, today=TODAY)["total_reviews"] == 0  # bulk_create counts nothing

    call_command("review_counts_rebuild", verbosity=0)

    for user in (carol, dave):
        body = stats_for(user_id=user.id, today=TODAY)
        assert (body["total_reviews"], body["current_streak_days"], body["reviews_today"]) == (3, 3, 1)


def test_the_migrations_that_add_the_counts_count_the_history_already_there(transactional_db, make_user):
    user = make_user("carol")
    card = make_card(user)
    for n in (0, 1, 3):
        make_history(user, card, at=NOW - days(n))
    counted = counts_of(user)
    ReviewSchedule.objects.update(reviews=0, remembered=0)
    executor = MigrationExecutor(connection)
    executor.migrate([("analytics", None), ("review", "0001_initial")])
    executor.loader.build_graph()

    try:
        executor.migrate([("analytics", "0002_count_days"), ("review", "0002_schedule_counts")])

        assert counts_of(user) == counted
        assert counted[1] == [
            (TODAY - days(3), 1, TODAY - days(3)),
            (TODAY - days(1), 1, TODAY - days(1)),
            (TODAY, 1, TODAY - days(1)),
        ]
    finally:
        # Note: back to the latest schema, which the tests after this one are written for.
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
