"""GET /api/exports/?format=csv|apkg: the owner's cards as a file that imports back here as
nothing new (jobs in a thread of this process, as in test_imports_api.py)."""

import io

import pytest
from django.test import override_settings

from content.models import Content
from decks import readers
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
