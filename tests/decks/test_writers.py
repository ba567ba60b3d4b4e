"""decks.writers: CSV lines and Anki packages, and the contract that both read back through
decks.readers to the same cards."""

import io
import itertools
import json
import sqlite3
import tempfile
import zipfile
from collections import Counter
from contextlib import closing
from datetime import UTC, date, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from decks.readers import Answer, Limits, Review, open_deck
from decks.text import normalise
from decks.writers import MODEL_ID, Card, csv_lines, write_apkg

LIMITS = Limits(max_collection_bytes=50 * 2**20, max_notes=10_000)
CARDS = [
    ("Tom & Jerry", "a < b > c", None),
    ('"Quoted", with commas', "semi; colons; and | pipes", "Symbols"),
    ("Two\nlines", "first\n\nafter an empty line", "Symbols"),
    ("Ñandú", "straußen — 鳥 😀", "Languages::Spanish"),
    ("<b>not bold</b>", "&amp; stays &amp;", "Languages"),
    ("[sound:x.mp3]", "", None),
]

normal_text = st.text(st.characters(codec="utf-8") | st.sampled_from(list("<>&\"';,|\t\n "))).map(normalise)
cards = st.lists(
    st.tuples(
        normal_text.filter(lambda title: title and len(title) <= 200),  # the reader shortens longer titles
        normal_text,
        st.none() | normal_text.filter(lambda name: name and len(name) <= 100),
    ),
    max_size=8,
)


def csv_round_trip(exported: list) -> list[tuple[str, str, str | None]]:
    data = "".join(csv_lines(exported)).encode()
    with open_deck(io.BytesIO(data), name="export.csv", limits=LIMITS) as deck:
        return [(note.title, note.body, note.category) for note in deck.notes()]


def apkg_round_trip(exported: list, directory: Path) -> list[tuple[str, str, str | None]]:
    path = directory / "export.apkg"
    write_apkg(exported, path=str(path))
    with path.open("rb") as file, open_deck(file, name="export.apkg", limits=LIMITS) as deck:
        return [(note.title, note.body, note.category) for note in deck.notes()]


def collection_rows(package: Path, query: str) -> list[tuple]:
    """The rows `query` finds in the package's collection."""
    database = package.with_suffix(".anki2")
    database.write_bytes(zipfile.ZipFile(package).read("collection.anki2"))
    with closing(sqlite3.connect(database)) as db:
        return db.execute(query).fetchall()


def deck_names(package: Path) -> dict[int, str]:
    (decks,) = collection_rows(package, "SELECT decks FROM col")[0]
    return {int(deck_id): deck["name"] for deck_id, deck in json.loads(decks).items()}


# --- CSV ------------------------------------------------------------------------------------------------


def test_csv_lines_are_the_header_and_then_a_line_per_card():
    assert list(csv_lines([("ser", "to be", "Spanish"), ("pi", "3.14", None)])) == [
        "front,back,category\r\n",
        "ser,to be,Spanish\r\n",
        "pi,3.14,\r\n",
    ]


def test_csv_cells_are_quoted_when_they_need_it():
    assert list(csv_lines([('say "hi", ok', "two\nlines", "A::B")]))[1] == '"say ""hi"", ok","two\nlines",A::B\r\n'


def test_csv_lines_are_yielded_as_the_cards_come():
    endless = itertools.repeat(("a", "b", None))
    assert list(itertools.islice(csv_lines(endless), 3)) == ["front,back,category\r\n", "a,b,\r\n", "a,b,\r\n"]


def test_a_csv_export_reads_back_as_the_same_cards_in_the_same_order():
    assert csv_round_trip(CARDS) == CARDS


@given(cards)
def test_any_normal_cards_read_back_from_csv_unchanged(exported):
    assert csv_round_trip(exported) == exported


# --- Anki packages ------------------------------------------------------------------------------------


def test_an_anki_export_reads_back_as_the_same_cards(tmp_path):
    assert Counter(apkg_round_trip(CARDS, tmp_path)) == Counter(CARDS)


@settings(max_examples=40, deadline=None)
@given(cards)
def test_any_normal_cards_read_back_from_an_anki_package_unchanged(exported):
    with tempfile.TemporaryDirectory() as directory:
        assert Counter(apkg_round_trip(exported, Path(directory))) == Counter(exported)


def test_fields_are_html_so_text_that_looks_like_markup_is_escaped(tmp_path):
    write_apkg([("<b>x</b> & y", "one\ntwo", None)], path=str(tmp_path / "e.apkg"))
    assert collection_rows(tmp_path / "e.apkg", "SELECT flds FROM notes") == [
        ("&lt;b&gt;x&lt;/b&gt; &amp; y\x1fone<br>two",)
    ]


def test_uncategorised_cards_are_in_the_one_default_deck(tmp_path):
    write_apkg([("a", "b", None), ("c", "d", "Maths"), ("e", "f", "")], path=str(tmp_path / "e.apkg"))
    names = deck_names(tmp_path / "e.apkg")
    assert sorted(names.values()) == ["Default", "Maths"] and names[1] == "Default"
    in_default = collection_rows(tmp_path / "e.apkg", "SELECT count(*) FROM cards WHERE did = 1")
    assert in_default == [(2,)]


def test_every_export_is_one_note_type_named_once(tmp_path):
    write_apkg([("a", "b", "X"), ("c", "d", "Y"), ("e", "f", None)], path=str(tmp_path / "e.apkg"))
    (models,) = collection_rows(tmp_path / "e.apkg", "SELECT models FROM col")[0]
    assert [key for key, _ in json.loads(models, object_pairs_hook=list)] == [str(MODEL_ID)]
    assert collection_rows(tmp_path / "e.apkg", "SELECT DISTINCT mid FROM notes") == [(MODEL_ID,)]


def test_the_same_cards_export_as_the_same_notes_and_decks(tmp_path):
    exported = [("a", "b", "X"), ("c", "d", None)]
    write_apkg(exported, path=str(tmp_path / "first.apkg"))
    write_apkg(list(reversed(exported)), path=str(tmp_path / "second.apkg"))
    guids = [set(collection_rows(tmp_path / name, "SELECT guid FROM notes")) for name in ["first.apkg", "second.apkg"]]
    assert guids[0] == guids[1] and len(guids[0]) == 2
    assert deck_names(tmp_path / "first.apkg") == deck_names(tmp_path / "second.apkg")


def test_an_export_without_cards_is_a_package_that_opens_with_no_notes(tmp_path):
    assert apkg_round_trip([], tmp_path) == []
    assert deck_names(tmp_path / "export.apkg") == {1: "Default"}


def test_writing_a_package_leaves_no_temporary_file(tmp_path, scratch):
    write_apkg(CARDS, path=str(tmp_path / "e.apkg"))
    assert zipfile.ZipFile(tmp_path / "e.apkg").namelist() == ["collection.anki2", "media"]
    assert list(scratch.iterdir()) == []


def test_a_cards_schedule_and_answers_are_anki_card_columns_and_review_log_rows(tmp_path):
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    review = Review(interval_days=7, due=date(2026, 3, 9), suspended=True, stability=12.5, difficulty=4.0)
    answers = (Answer(at=at, ease=1, seconds=6), Answer(at=at, ease=3, seconds=None))  # the same moment twice
    write_apkg([Card("a", "b", None, review, answers, lapses=0), ("c", "d", None)], path=str(tmp_path / "e.apkg"))

    (crt,) = collection_rows(tmp_path / "e.apkg", "SELECT crt FROM col")[0]
    due = (date(2026, 3, 9) - datetime.fromtimestamp(crt, UTC).date()).days
    columns = "SELECT type, queue, due, ivl, reps, lapses, data FROM cards ORDER BY id"
    assert collection_rows(tmp_path / "e.apkg", columns) == [
        (2, -1, due, 7, 2, 0, '{"s": 12.5, "d": 4.0}'),
        (0, 0, 0, 0, 0, 0, ""),  # genanki's new card, as it was
    ]
    moment = int(at.timestamp() * 1000)
    log = "SELECT id, ease, time, type FROM revlog ORDER BY id"
    assert collection_rows(tmp_path / "e.apkg", log) == [(moment, 1, 6000, 0), (moment + 1, 3, 0, 1)]
