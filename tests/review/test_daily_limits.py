"""The daily limits of today's list (review.selectors.shown_today), as Anki's scheduler applies
them: review cards up to the review limit less today's reviews, new cards up to the new-card limit
less those introduced today and never past the review limit, all in the learner's day."""

from review.models import ReviewHistory
from tests.helpers import (
    NOW,
    TODAY,
    complete,
    days,
    make_card,
    make_category,
    make_history,
    set_learner,
    today_list,
    utc,
)


def due_titles(client) -> list[str]:
    response = today_list(client, page_size=100)
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["results"]]


def reviewed_before(who, title: str):
    """A review card due today, first reviewed on an earlier day."""
    card = make_card(who, title, due=TODAY, initial=True, step=1)
    make_history(who, card, at=NOW - days(3))
    return card


def reviews_made_today(who, card, n: int) -> None:
    ReviewHistory.objects.bulk_create(
        ReviewHistory(user_id=who.user.id, content=card, result="remembered", reviewed_at=NOW) for _ in range(n)
    )


def test_a_learner_who_reviewed_199_of_200_sees_one_review_card_and_no_new_one(alice):
    done = reviewed_before(alice, "done")
    done_schedule = done.schedule
    done_schedule.next_review_date = TODAY + days(3)
    done_schedule.save()
    reviews_made_today(alice, done, 199)
    for title in ("oldest", "middle", "newest"):
        reviewed_before(alice, title)
    make_card(alice, "new")

    body = today_list(alice).json()

    assert due_titles(alice) == ["oldest"]
    assert (body["count"], body["total_count"]) == (1, 5)


def test_new_cards_stop_once_the_review_limit_is_reached(alice):
    set_learner(alice, reviews_per_day=3)
    for title in ("r1", "r2", "r3"):
        reviewed_before(alice, title)
    make_card(alice, "new")

    assert due_titles(alice) == ["r1", "r2", "r3"]


def test_new_cards_fill_what_the_review_limit_leaves(alice):
    set_learner(alice, reviews_per_day=4)
    for title in ("r1", "r2"):
        reviewed_before(alice, title)
    for title in ("n1", "n2", "n3"):
        make_card(alice, title)

    assert due_titles(alice) == ["r1", "r2", "n1", "n2"]


def test_new_cards_come_oldest_first_up_to_the_new_limit_less_those_introduced_today(alice):
    set_learner(alice, new_cards_per_day=3)
    assert complete(alice, make_card(alice, "introduced")).status_code == 200
    for title in ("n1", "n2", "n3"):
        make_card(alice, title)

    body = today_list(alice).json()

    assert due_titles(alice) == ["n1", "n2"]
    assert (body["count"], body["total_count"]) == (2, 4)


def test_a_card_introduced_today_and_seen_again_counts_as_new_once(alice):
    set_learner(alice, new_cards_per_day=1, reviews_per_day=2)
    introduced = make_card(alice, "introduced", due=TODAY + days(1))
    make_history(alice, introduced)
    make_history(alice, introduced)
    reviewed_before(alice, "r1")
    reviewed_before(alice, "r2")
    make_card(alice, "n1")

    # one review made today (the second sight), so one of the two review cards; no new card left
    assert due_titles(alice) == ["r1"]


def test_the_limits_reset_at_the_learners_rollover(alice, clock):
    set_learner(alice, new_cards_per_day=1, reviews_per_day=1)
    done = reviewed_before(alice, "r0")
    reviews_made_today(alice, done, 1)
    reviewed_before(alice, "r1")
    make_card(alice, "n1")
    make_card(alice, "n2")
    assert due_titles(alice) == []

    clock.now = utc(2024, 5, 16, 3, 59)  # the day starts at 04:00 (UTC here)
    assert due_titles(alice) == []
    clock.now = utc(2024, 5, 16, 4, 0)
    assert due_titles(alice) == ["r0"]


def test_a_category_filter_counts_what_the_limits_let_through(alice):
    words = make_category(alice, "Words", "words")
    set_learner(alice, new_cards_per_day=2)
    for title in ("w1", "w2", "w3"):
        make_card(alice, title, category=words)

    body = today_list(alice, category_slug="words").json()

    assert [item["title"] for item in body["results"]] == ["w1", "w2"]
    assert (body["count"], body["total_count"]) == (2, 3)
