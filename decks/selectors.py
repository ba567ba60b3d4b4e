"""Reads of decks: the owner's cards as exports write them."""

import itertools
from collections.abc import Iterator

from content.models import Content
from decks.readers import Answer, Review
from decks.writers import Card
from review.models import ReviewHistory, State
from utils.conf import review_intervals

CHUNK = 2000
SCHEDULE = (
    *("initial_review_completed", "state", "interval_step", "next_review_date", "due_at"),
    *("is_active", "stability", "difficulty", "lapses"),
)


def export_cards(*, owner_id: int) -> Iterator[tuple[str, str, str | None]]:
    """(title, body, category name) of every card, oldest first, fetched in chunks."""
    rows = Content.objects.filter(owner_id=owner_id).order_by("id").values_list("title", "body", "category__name")
    return rows.iterator(chunk_size=CHUNK)


def export_cards_with_history(*, owner_id: int) -> Iterator[Card]:
    """Every card, oldest first, with where it stands and its answers: two queries in the cards'
    order, read side by side in chunks."""
    fields = ("id", "title", "body", "category__name", *(f"schedule__{name}" for name in SCHEDULE))
    rows = Content.objects.filter(owner_id=owner_id).order_by("id").values_list(*fields)
    answers = ReviewHistory.objects.filter(user_id=owner_id).order_by("content_id", "reviewed_at", "id")
    per_card = itertools.groupby(
        answers.values_list("content_id", "grade", "reviewed_at", "time_spent_seconds").iterator(chunk_size=CHUNK),
        key=lambda answer: answer[0],
    )
    card_id, history = next(per_card, (None, ()))
    for pk, title, body, category, *schedule in rows.iterator(chunk_size=CHUNK):
        while card_id is not None and card_id < pk:  # Note: answers of a card deleted meanwhile
            card_id, history = next(per_card, (None, ()))
        mine = (
            tuple(Answer(at=at, ease=grade, seconds=seconds) for _, grade, at, seconds in history)
            if card_id == pk
            else ()
        )
        yield Card(title, body, category, _review(*schedule), mine, lapses=schedule[-1] or 0)


def _review(answered, state, step, due, due_at, active, stability, difficulty, lapses) -> Review | None:
    """Where the card stands as Anki keeps it: None for a card never answered."""
    if not answered:
        return None
    intervals = review_intervals()
    return Review(
        interval_days=intervals[min(step, len(intervals) - 1)],
        due=due,
        suspended=not active,
        state=State.REVIEW if state == State.NEW else state,
        due_at=due_at,
        stability=stability,
        difficulty=difficulty,
    )
