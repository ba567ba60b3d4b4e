"""GET /api/exports/?format=csv|apkg: the owner's cards as a file that imports back here as
nothing new (jobs in a thread of this process, as in test_imports_api.py)."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from analytics.models import DayTally
from content.models import Content
from decks import readers
from review.models import ReviewHistory, ReviewSchedule, State
from review.services import review_complete
from tests.helpers import make_card, make_category, start_import, wait_for_job

pytestmark = pytest.mark.django_db(transaction=True)
EXPORTS = "/api/exports/"
LIMITS = readers.Limits(max_collection_bytes=2**26, max_notes=1000)


@pytest.fixture(autouse=True)
def jobs_here():
    with override_settings(JOBS_IN_PROCESS=True):
        yield


def exported(client, chosen: str) -> bytes:
    response = client.get(EXPORTS, {"format": chosen})
    assert response.status_code == 200, response.content
    assert response["Content-Disposition"] == f'attachment; filename="resee-cards.{chosen}"'
    return b"".join(response.streaming_content)


def notes_in(data: bytes, name: str) -> list[tuple[str, str, str | None]]:
    with readers.open_deck(io.BytesIO(data), name=name, limits=LIMITS) as deck:
        return sorted((note.title, note.body, note.category) for note in deck.notes())


@pytest.fixture
def cards(alice):
    spanish = make_category(alice, "Spanish")
    nested = make_category(alice, "Languages::Greek")
    make_card(alice, "ser", category=spanish)
    Content.objects.filter(title="ser").update(body='to be, "essence" & <more>\n\nsecond paragraph')
    make_card(alice, "ναι", category=nested)
    make_card(alice, "pi; 3.14")
    return sorted(Content.objects.filter(owner=alice.user).values_list("title", "body", "category__name"))


@pytest.mark.parametrize("chosen", ["csv", "apkg"])
def test_an_export_holds_every_card_of_mine_and_none_of_anyone_elses(alice, bob, cards, chosen):
    make_card(bob, "bob's card")
    assert notes_in(exported(alice, chosen), f"x.{chosen}") == cards


@pytest.mark.parametrize("chosen", ["csv", "apkg"])
def test_an_export_imported_back_creates_nothing(alice, cards, chosen):
    job = start_import(alice, exported(alice, chosen), f"resee-cards.{chosen}")
    progress = wait_for_job(alice, job["id"])
    assert (progress["state"], progress["created"], progress["skipped"]) == ("succeeded", 0, len(cards))


@pytest.mark.parametrize("chosen", ["csv", "apkg"])
def test_the_export_of_a_new_user_is_a_valid_empty_file(alice, chosen):
    data = exported(alice, chosen)
    assert notes_in(data, f"x.{chosen}") == []
    if chosen == "csv":
        assert data == b"front,back,category\r\n"


def test_the_csv_export_is_utf8_text_and_the_default(alice, cards):
    response = alice.get(EXPORTS)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert b"".join(response.streaming_content).decode("utf-8").startswith("front,back,category\r\n")


def test_an_unknown_format_is_a_400_json(alice):
    response = alice.get(EXPORTS, {"format": "xml"})
    assert response.status_code == 400
    assert "format" in response.json()


def test_exports_need_a_login(anon):
    assert anon.get(EXPORTS).status_code == 401


SCHEDULE = (
    *("state", "interval_step", "next_review_date", "due_at", "is_active", "initial_review_completed"),
    *("stability", "difficulty", "reviews", "remembered", "recalled", "lapses", "last_review_at"),
)


def schedules_and_history(client) -> dict:
    """Each card's schedule and answers, by title."""
    schedules = ReviewSchedule.objects.filter(owner=client.user).values_list("content__title", *SCHEDULE)
    answers = ReviewHistory.objects.filter(user=client.user).order_by("reviewed_at")
    history = answers.values_list("content__title", "result", "grade", "reviewed_at", "time_spent_seconds")
    return {
        title: (schedule, [answer[1:] for answer in history if answer[0] == title]) for title, *schedule in schedules
    }


def test_an_anki_export_imported_by_another_learner_brings_each_cards_schedule_and_history(alice, bob, cards):
    ser, nai, pi = (Content.objects.get(owner=alice.user, title=title) for title in ("ser", "ναι", "pi; 3.14"))
    start = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    for day, (card, result, seconds) in enumerate(
        [(ser, "again", 4), (ser, "good", 7), (ser, "easy", None), (ser, "again", 3), (nai, "hard", 12)]
    ):
        review_complete(user_id=alice.user.id, content_id=card.id, result=result, time_spent_seconds=seconds,
                        now=start + timedelta(days=day, seconds=day))  # fmt: skip
    # FSRS's memory state and a relearning card due within the day, as the FSRS scheduler leaves them
    relearning = {"state": State.RELEARNING, "due_at": start + timedelta(days=4, minutes=10), "stability": 1.25}
    ReviewSchedule.objects.filter(content=ser).update(**relearning, difficulty=7.5)
    ReviewSchedule.objects.filter(content=nai).update(is_active=False, stability=20.5, difficulty=3.25)

    progress = wait_for_job(bob, start_import(bob, exported(alice, "apkg"), "resee-cards.apkg")["id"])

    assert (progress["state"], progress["created"], progress["reviews"]) == ("succeeded", 3, 5)
    theirs = schedules_and_history(alice)
    assert schedules_and_history(bob) == theirs
    assert tuple(theirs["ser"][0][-5:]) == (4, 2, 2, 1, start + timedelta(days=3, seconds=3))  # the counts came too
    assert [answer[1] for answer in theirs["ser"][1]] == [1, 3, 4, 1] and theirs["pi; 3.14"][1] == []
    assert ReviewHistory.objects.filter(user=bob.user).values_list("scheduler", flat=True).distinct().get() == "anki"
    assert DayTally.objects.filter(user=bob.user).count() == 5
