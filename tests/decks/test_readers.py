"""decks.readers: Anki packages (built with genanki, or by hand where genanki cannot: anki21b, review
state, damage) and CSV files, read into Notes and Problems or refused with a DeckError."""

import io
import sqlite3
import tracemalloc
import zipfile
from contextlib import closing
from datetime import date, timedelta

import pytest
import zstandard
from django.core.files.uploadedfile import SimpleUploadedFile

from decks import readers
from decks.readers import Answer, DeckError, Limits, Note, Problem, Review, open_deck
from tests.helpers import (
    ANKI_CREATED,
    ANKI_PLACEHOLDER,
    AnkiCard,
    AnkiReview,
    anki2_package,
    anki21b_package,
    anki_collection,
    anki_package,
    zipped,
)

LIMITS = Limits(max_collection_bytes=20 * 2**20, max_notes=1000)
MEMORY_BOUND = 5 * 2**20


# --- Builders -------------------------------------------------------------------------------------


def with_central_directory_field(data: bytes, *, offset: int, value: int, size: int = 4) -> bytes:
    """The zip with a field of its last central directory entry overwritten: a lying header."""
    at = data.rindex(b"PK\x01\x02") + offset
    return data[:at] + value.to_bytes(size, "little") + data[at + size :]


def read(data: bytes, *, name: str = "deck.apkg", limits: Limits = LIMITS, start: int = 0) -> list[Note | Problem]:
    with open_deck(io.BytesIO(data), name=name, limits=limits) as deck:
        items = list(deck.notes(start=start))
        assert deck.total == len(items) + start
        return items


def read_csv(text: str, **kwargs) -> list[Note | Problem]:
    return read(text.encode(), name="deck.csv", **kwargs)


def refusal(data: bytes, *, name: str = "deck.apkg", limits: Limits = LIMITS) -> DeckError:
    with pytest.raises(DeckError) as caught:
        read(data, name=name, limits=limits)
    return caught.value


def refusal_in_bounded_memory(data: bytes, *, limits: Limits) -> DeckError:
    tracemalloc.start()
    try:
        error = refusal(data, limits=limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND
    return error


def fields(items: list[Note | Problem]) -> list[tuple[str, str, str | None]]:
    return [(note.title, note.body, note.category) for note in items]


# --- Which format -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["deck.apkg", "deck.colpkg", "DECK.APKG"])
def test_a_file_named_as_an_anki_package_that_is_not_a_zip_is_refused(name):
    assert refusal(b"front,back\na,b\n", name=name).code == "not_a_zip"


def test_a_damaged_zip_is_refused_as_not_a_zip():
    error = refusal(b"PK\x03\x04" + b"\x00" * 100, name="deck.csv")
    assert (error.code, "zip" in str(error)) == ("not_a_zip", True)


def test_a_zip_is_read_as_an_anki_package_whatever_its_name(tmp_path):
    with open_deck(io.BytesIO(anki2_package(tmp_path, {1: "a\x1fb"})), name="upload.bin", limits=LIMITS) as deck:
        assert (deck.format, deck.total, deck.media) == ("apkg", 1, 0)


def test_anything_else_is_read_as_csv_whatever_its_name():
    with open_deck(io.BytesIO(b"front,back\na,b\n"), name="deck.txt", limits=LIMITS) as deck:
        assert (deck.format, deck.total, deck.media) == ("csv", 1, 0)


def test_a_django_upload_is_read():
    upload = SimpleUploadedFile("deck.csv", b"front,back\na,b\n")
    upload.read(3)  # the caller may have looked at it already
    with open_deck(upload, name=upload.name, limits=LIMITS) as deck:
        assert fields(list(deck.notes())) == [("a", "b", None)]


# --- Anki packages ------------------------------------------------------------------------------------


def test_a_genanki_package_yields_its_notes_with_their_deck_as_category_and_counts_its_media(tmp_path):
    package = anki_package(
        tmp_path,
        {"Spanish": [("<b>ser</b>", "to&nbsp;be<br>essence")], "Maths": [("pi", "3.14")], None: [("hola", "hi")]},
        media=2,
    )
    with open_deck(io.BytesIO(package), name="deck.apkg", limits=LIMITS) as deck:
        assert (deck.format, deck.total, deck.media) == ("apkg", 3, 2)
        assert sorted(fields(list(deck.notes()))) == [
            ("hola", "hi", None),
            ("pi", "3.14", "Maths"),
            ("ser", "to be\nessence", "Spanish"),
        ]


def test_the_body_joins_the_non_empty_fields_after_the_first_with_an_empty_line(tmp_path):
    package = anki_package(tmp_path, {"Words": [("front", "one", "", "<div>three</div>")]})
    assert fields(read(package)) == [("front", "one\n\nthree", "Words")]


def test_a_modern_package_is_read_from_anki21b_and_not_from_its_placeholder(tmp_path):
    package = anki21b_package(tmp_path, {7: "ser\x1fto be", 8: "pi\x1f3.14"})
    assert fields(read(package)) == [("ser", "to be", None), ("pi", "3.14", None)]
    placeholder_only = zipped({"collection.anki2": anki_collection(tmp_path / "p.db", {1: ANKI_PLACEHOLDER})})
    assert fields(read(placeholder_only)) == [(ANKI_PLACEHOLDER, "", None)]  # so it would have shown


def test_anki21_is_read_in_preference_to_anki2(tmp_path):
    package = zipped(
        {
            "collection.anki2": anki_collection(tmp_path / "old.db", {1: ANKI_PLACEHOLDER}),
            "collection.anki21": anki_collection(tmp_path / "new.db", {1: "new\x1fbody"}),
        }
    )
    assert fields(read(package)) == [("new", "body", None)]


@pytest.mark.parametrize("schema", [11, 18])
def test_nested_decks_are_parent_child_categories_and_the_default_deck_is_none(tmp_path, schema):
    notes = {1: "a\x1f", 2: "b\x1f", 3: "c\x1f"}
    cards = [AnkiCard(nid=1, did=5), AnkiCard(nid=2, did=1), AnkiCard(nid=3, did=99)]  # 99: a deck that is gone
    data = anki_collection(tmp_path / "c.db", notes, cards, {1: "Default", 5: "Languages::Spanish"}, schema=schema)
    member = "collection.anki21b" if schema == 18 else "collection.anki2"
    packed = zstandard.ZstdCompressor().compress(data) if schema == 18 else data
    assert [note.category for note in read(zipped({member: packed}))] == ["Languages::Spanish", None, None]


def test_a_review_card_keeps_its_interval_and_due_date(tmp_path):
    package = anki2_package(tmp_path, {1: "a\x1fb"}, [AnkiCard(nid=1, type=2, queue=2, due=100, ivl=12)])
    assert read(package)[0].review == Review(interval_days=12, due=date(2024, 4, 10), suspended=False)


def test_a_suspended_review_card_is_suspended(tmp_path):
    package = anki2_package(tmp_path, {1: "a\x1fb"}, [AnkiCard(nid=1, type=2, queue=-1, due=3, ivl=1)])
    assert read(package)[0].review == Review(interval_days=1, due=date(2024, 1, 4), suspended=True)


@pytest.mark.parametrize(
    "card_type, queue, ivl",
    [(0, 0, 0), (1, 0, 0), (2, 2, 0)],
    ids=["new", "learning in no learning queue", "no interval"],
)
def test_a_card_that_is_not_in_review_starts_over(tmp_path, card_type, queue, ivl):
    package = anki2_package(tmp_path, {1: "a\x1fb"}, [AnkiCard(nid=1, type=card_type, queue=queue, due=50, ivl=ivl)])
    assert read(package)[0].review is None


def test_a_relearning_card_due_within_the_day_keeps_its_moment_and_its_memory_state(tmp_path):
    due_at = ANKI_CREATED + timedelta(days=30, minutes=10)
    card = AnkiCard(nid=1, type=3, queue=1, due=int(due_at.timestamp()), ivl=5, data='{"s": 2.5, "d": 6.1, "dr": 0.9}')
    assert read(anki2_package(tmp_path, {1: "a\x1fb"}, [card]))[0].review == Review(
        interval_days=5, due=due_at.date(), suspended=False, state=3, due_at=due_at, stability=2.5, difficulty=6.1
    )


def test_a_learning_card_due_another_day_is_due_on_that_day(tmp_path):
    card = AnkiCard(nid=1, type=1, queue=3, due=10, data="not json")
    assert read(anki2_package(tmp_path, {1: "a\x1fb"}, [card]))[0].review == Review(
        interval_days=0, due=date(2024, 1, 11), suspended=False, state=1
    )


def test_the_first_cards_review_log_comes_as_answers_without_its_manual_reschedules(tmp_path):
    at = ANKI_CREATED + timedelta(days=2, hours=3)
    cards = [AnkiCard(nid=1, type=2, queue=2, due=9, ivl=4), AnkiCard(nid=1, ord=1)]
    log = [
        AnkiReview(cid=1, at=at, ease=1, ms=12_400),
        AnkiReview(cid=1, at=at + timedelta(days=1), ease=4, ms=0),
        AnkiReview(cid=1, at=at + timedelta(days=2), ease=0, type=4),  # set due date
        AnkiReview(cid=1, at=at + timedelta(days=3), ease=3, type=5),  # rescheduled
        AnkiReview(cid=1, at=at + timedelta(days=4), ease=2, type=3, ms=99 * 86_400_000),  # filtered deck, endless
        AnkiReview(cid=2, at=at + timedelta(hours=1), ease=3),  # the note's other card
    ]
    note = read(anki2_package(tmp_path, {1: "a\x1fb"}, cards, revlog=log))[0]
    assert note.history == (
        Answer(at=at, ease=1, seconds=12),
        Answer(at=at + timedelta(days=1), ease=4, seconds=None),
        Answer(at=at + timedelta(days=4), ease=2, seconds=86_400),
    )
    assert note.manual == 2


def test_review_logs_come_with_their_notes_across_chunks_and_from_where_a_job_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(readers, "REVLOG_CHUNK", 2)
    notes = {n: f"note {n}\x1f" for n in range(1, 6)}
    cards = [AnkiCard(nid=n) for n in notes]
    log = [AnkiReview(cid=n, at=ANKI_CREATED + timedelta(hours=n), ease=3) for n in notes for _ in range(n)]
    package = anki2_package(tmp_path, notes, cards, revlog=log)
    assert [len(note.history) for note in read(package)] == [1, 2, 3, 4, 5]
    assert [len(note.history) for note in read(package, start=3)] == [4, 5]


def test_the_notes_first_card_by_ord_gives_its_category_and_review(tmp_path):
    cards = [AnkiCard(nid=1, did=5, ord=1, type=2, queue=2, due=9, ivl=4), AnkiCard(nid=1, did=6, ord=0)]
    note = read(anki2_package(tmp_path, {1: "a\x1fb"}, cards, {1: "Default", 5: "Second", 6: "First"}))[0]
    assert (note.category, note.review) == ("First", None)


def test_a_note_without_cards_has_no_category_and_no_review(tmp_path):
    note = read(anki2_package(tmp_path, {1: "a\x1fb"}, [], {1: "Default", 5: "Deck"}))[0]
    assert (note.category, note.review) == (None, None)


def test_a_long_title_and_a_long_deck_name_are_cut_with_an_ellipsis(tmp_path):
    title, deck = "t" * 250, "d" * 150
    note = read(anki2_package(tmp_path, {1: f"{title}\x1fb"}, [AnkiCard(nid=1, did=5)], {5: deck}))[0]
    assert (note.title, note.category) == ("t" * 199 + "…", "d" * 99 + "…")


def test_titles_and_deck_names_at_the_limit_are_kept_whole(tmp_path):
    title, deck = "t" * 200, "d" * 100
    note = read(anki2_package(tmp_path, {1: f"{title}\x1fb"}, [AnkiCard(nid=1, did=5)], {5: deck}))[0]
    assert (note.title, note.category) == (title, deck)


def test_notes_come_in_note_id_order_numbered_from_one_and_start_skips_the_first(tmp_path):
    package = anki2_package(tmp_path, {30: "c\x1f", 10: "a\x1f", 20: "b\x1f"})
    assert [(note.line, note.title) for note in read(package)] == [(1, "a"), (2, "b"), (3, "c")]
    assert [(note.line, note.title) for note in read(package, start=2)] == [(3, "c")]


def test_a_field_that_is_not_utf8_is_read_with_replacement_characters(tmp_path):
    path = tmp_path / "c.db"
    anki_collection(path, {})
    with closing(sqlite3.connect(path)) as db:
        db.execute("INSERT INTO notes VALUES (1, CAST(? AS TEXT))", (b"caf\xff\x1fbody",))
        db.commit()
    assert fields(read(zipped({"collection.anki2": path.read_bytes()}))) == [("caf\ufffd", "body", None)]


def test_more_notes_than_the_limit_are_refused_when_the_deck_is_opened(tmp_path):
    package = anki2_package(tmp_path, {1: "a\x1f", 2: "b\x1f", 3: "c\x1f"})
    error = refusal(package, limits=Limits(max_collection_bytes=2**20, max_notes=2))
    assert (error.code, "2" in str(error)) == ("too_many_notes", True)
    assert len(read(package, limits=Limits(max_collection_bytes=2**20, max_notes=3))) == 3


def test_a_zip_without_a_collection_is_refused():
    error = refusal(zipped({"media": b"{}", "0": b"picture"}))
    assert error.code == "no_collection"
    assert all(name in str(error) for name in ["collection.anki21b", "collection.anki21", "collection.anki2"])


@pytest.mark.parametrize("member", ["collection.anki2", "collection.anki21b"])
def test_a_collection_that_is_not_sqlite_is_refused_as_corrupt(member):
    data = b"this is not a database" * 100
    packed = zstandard.ZstdCompressor().compress(data) if member.endswith("b") else data
    assert refusal(zipped({member: packed})).code == "corrupt_collection"


def test_an_anki21b_that_is_not_zstd_is_refused_as_corrupt(tmp_path):
    assert refusal(zipped({"collection.anki21b": anki_collection(tmp_path / "c.db", {})})).code == "corrupt_collection"


def test_a_collection_without_a_notes_table_is_refused_as_corrupt(tmp_path):
    path = tmp_path / "c.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE col (crt integer)")
        db.execute("CREATE TABLE cards (nid integer)")
    error = refusal(zipped({"collection.anki2": path.read_bytes()}))
    assert (error.code, "notes" in str(error)) == ("corrupt_collection", True)


def test_a_notes_view_is_refused_as_corrupt(tmp_path):
    path = tmp_path / "c.db"
    anki_collection(path, {1: "a\x1fb"})
    with closing(sqlite3.connect(path)) as db:
        db.execute("ALTER TABLE notes RENAME TO real_notes")
        db.execute("CREATE VIEW notes AS SELECT * FROM real_notes")
    assert refusal(zipped({"collection.anki2": path.read_bytes()})).code == "corrupt_collection"


def test_an_unreadable_deck_list_is_refused_as_corrupt(tmp_path):
    path = tmp_path / "c.db"
    anki_collection(path, {1: "a\x1fb"})
    with closing(sqlite3.connect(path)) as db:
        db.execute('UPDATE col SET decks = \'{"1": "no name"\'')
        db.commit()
    assert refusal(zipped({"collection.anki2": path.read_bytes()})).code == "corrupt_collection"


def test_an_encrypted_collection_is_refused(tmp_path):
    package = with_central_directory_field(anki2_package(tmp_path, {1: "a\x1fb"}), offset=8, value=0x1, size=2)
    error = refusal(package)
    assert (error.code, "encrypted" in str(error)) == ("corrupt_collection", True)


# --- Size limits and zip bombs ------------------------------------------------------------------------


def zeros_zip(member: str = "collection.anki2", size: int = 50 * 2**20) -> bytes:
    return zipped({member: bytes(size)})


def test_a_collection_declared_larger_than_the_limit_is_refused_saying_the_limit(tmp_path):
    package = anki2_package(tmp_path, {1: "a\x1f" + "x" * 600_000})
    error = refusal(package, limits=Limits(max_collection_bytes=2**19, max_notes=10))
    assert (error.code, str(error)) == ("too_large", "The unpacked collection is larger than the limit of 0.5 MB.")


def test_a_compression_ratio_over_100_is_refused_as_a_zip_bomb():
    error = refusal(zeros_zip(size=2 * 2**20), limits=Limits(max_collection_bytes=2**30, max_notes=10))
    assert (error.code, "zip bomb" in str(error), "2 MB" in str(error)) == ("too_large", True, True)


@pytest.mark.parametrize("limit_mb", [10, 100], ids=["over the limit", "under the limit, but a bomb"])
def test_a_50_mb_collection_of_zeros_is_refused_in_bounded_memory_leaving_no_temp_file(scratch, limit_mb):
    bomb = zeros_zip()
    assert len(bomb) < 2**20
    error = refusal_in_bounded_memory(bomb, limits=Limits(max_collection_bytes=limit_mb * 2**20, max_notes=10))
    assert (error.code, "MB" in str(error)) == ("too_large", True)
    assert list(scratch.iterdir()) == []


def test_an_anki21b_that_unpacks_past_the_limit_is_stopped_while_unpacking(scratch):
    # The zip member is the small zstd frame and declares its size honestly: only counting can stop it.
    frame = zstandard.ZstdCompressor().compress(bytes(50 * 2**20))
    bomb = zipped({"collection.anki21b": frame}, compression=zipfile.ZIP_STORED)
    assert len(bomb) < 2**20
    error = refusal_in_bounded_memory(bomb, limits=Limits(max_collection_bytes=10 * 2**20, max_notes=10))
    assert (error.code, str(error)) == ("too_large", "The unpacked collection is larger than the limit of 10 MB.")
    assert list(scratch.iterdir()) == []


def test_a_zip_header_that_understates_the_size_unpacks_no_more_than_it_declares(scratch):
    liar = with_central_directory_field(zeros_zip(), offset=24, value=1000)
    assert zipfile.ZipFile(io.BytesIO(liar)).getinfo("collection.anki2").file_size == 1000
    error = refusal_in_bounded_memory(liar, limits=Limits(max_collection_bytes=10 * 2**20, max_notes=10))
    assert error.code == "corrupt_collection"  # zipfile stops at the declared size and the CRC then fails
    assert list(scratch.iterdir()) == []


# --- Temporary files ----------------------------------------------------------------------------------


def test_the_unpacked_collection_is_removed_when_the_with_ends(tmp_path, scratch):
    with open_deck(io.BytesIO(anki2_package(tmp_path, {1: "a\x1fb"})), name="deck.apkg", limits=LIMITS) as deck:
        assert list(scratch.iterdir()) != []
        next(deck.notes())  # left unfinished
    assert list(scratch.iterdir()) == []


def test_the_unpacked_collection_is_removed_when_the_with_body_raises(tmp_path, scratch):
    with pytest.raises(LookupError):
        with open_deck(io.BytesIO(anki2_package(tmp_path, {1: "a\x1fb"})), name="deck.apkg", limits=LIMITS):
            assert list(scratch.iterdir()) != []
            raise LookupError("the caller failed")
    assert list(scratch.iterdir()) == []


def test_the_unpacked_collection_is_removed_when_it_is_refused(tmp_path, scratch):
    too_many = refusal(
        anki2_package(tmp_path, {1: "a\x1f", 2: "b\x1f"}), limits=Limits(max_collection_bytes=2**20, max_notes=1)
    )
    assert too_many.code == "too_many_notes"
    assert refusal(zipped({"collection.anki2": b"not sqlite" * 10})).code == "corrupt_collection"
    assert list(scratch.iterdir()) == []


# --- CSV ------------------------------------------------------------------------------------------------


def test_a_csv_yields_a_note_per_row_with_its_line_number():
    items = read_csv("front,back,category\nser,to be,Spanish\npi,3.14159,\n")
    assert items == [
        Note(line=2, title="ser", body="to be", category="Spanish"),
        Note(line=3, title="pi", body="3.14159", category=None),
    ]


def test_a_header_without_category_means_no_category():
    assert fields(read_csv("front,back\nser,to be\n")) == [("ser", "to be", None)]


def test_the_header_is_matched_ignoring_case_and_surrounding_spaces():
    assert fields(read_csv(" Front , BACK ,Category\r\na,b,c\r\n")) == [("a", "b", "c")]


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_the_delimiter_is_detected(delimiter):
    text = f"front{delimiter}back{delimiter}category\nx, y{delimiter}z{delimiter}c\n"
    assert fields(read_csv(text)) == [("x, y", "z", "c")]


def test_quoted_cells_with_other_delimiters_do_not_fool_the_delimiter_detection():
    # csv.Sniffer reads this (csv.writer's output for the title '";') as separated by semicolons.
    assert fields(read_csv('front,back,category\r\n""";",,\r\n')) == [('";', "", None)]


def test_a_byte_order_mark_is_ignored():
    assert fields(read(b"\xef\xbb\xbffront,back\nn\xc3\xa9,b\n", name="deck.csv")) == [("né", "b", None)]


def test_a_quoted_newline_keeps_the_line_numbers_of_later_rows_right():
    items = read_csv('front,back\n"two\nlines","and\r\n\r\nmore"\nnext,row\n')
    assert items == [
        Note(line=2, title="two\nlines", body="and\n\nmore", category=None),
        Note(line=6, title="next", body="row", category=None),
    ]


def test_a_row_with_the_wrong_number_of_cells_is_a_problem_and_the_rest_still_read():
    items = read_csv("front,back\nok,fine\ntoo,many,cells\nfew\n,no front\n")
    assert items == [
        Note(line=2, title="ok", body="fine", category=None),
        Problem(line=3, message="expected 2 columns, found 3"),
        Problem(line=4, message="expected 2 columns, found 1"),
        Note(line=5, title="", body="no front", category=None),
    ]


def test_blank_rows_are_ignored_and_not_counted():
    items = read_csv("front,back,category\n\na,b,\n  \n,,\n , ,\t\nc,d,\n\n")
    assert [(item.line, item.title) for item in items] == [(3, "a"), (7, "c")]


def test_cells_are_normalised_but_never_read_as_html():
    items = read_csv('front,back\n"  <b>bold</b>   &amp; ","a  b\n\n\n\nc  "\n')
    assert fields(items) == [("<b>bold</b> &amp;", "a b\n\nc", None)]


def test_a_cell_too_long_for_the_csv_module_is_a_problem_and_later_rows_still_read():
    items = read_csv(f"front,back\n{'x' * 200_000},b\nnext,row\n")
    assert isinstance(items[0], Problem) and items[0].line == 2
    assert fields(items[1:]) == [("next", "row", None)]


def test_start_skips_the_first_items():
    items = read_csv("front,back\na,b\nbad\nc,d\n", start=1)
    assert items == [Problem(line=3, message="expected 2 columns, found 1"), Note(4, "c", "d", None)]


def test_more_rows_than_the_limit_are_refused():
    text = "front,back\na,b\nbad\n\nc,d\n"
    assert len(read_csv(text, limits=Limits(max_collection_bytes=0, max_notes=3))) == 3
    error = refusal(text.encode(), name="deck.csv", limits=Limits(max_collection_bytes=0, max_notes=2))
    assert (error.code, "2" in str(error)) == ("too_many_notes", True)


@pytest.mark.parametrize("data, offset", [(b"front,back\nni\xf1o,child\n", 13), (b"\xef\xbb\xbffront,back\n\xff", 14)])
def test_a_csv_that_is_not_utf8_is_refused_naming_the_byte(data, offset):
    error = refusal(data, name="deck.csv")
    assert (error.code, "UTF-8" in str(error), f"offset {offset}" in str(error)) == ("csv_encoding", True, True)


@pytest.mark.parametrize(
    "text, found",
    [("question,answer\nser,to be\n", "question,answer"), ("front,back,tags\n", "front,back,tags"), ("", "")],
    ids=["other names", "another column", "empty file"],
)
def test_a_csv_without_the_header_is_refused_showing_what_it_expected_and_found(text, found):
    error = refusal(text.encode(), name="deck.csv")
    assert error.code == "csv_header"
    assert '"front,back"' in str(error) and '"front,back,category"' in str(error) and f'found "{found}"' in str(error)


@pytest.mark.parametrize("length", [500, 200_000], ids=["long", "longer than a csv field may be"])
def test_the_header_shown_is_cut_to_100_characters(length):
    assert f'found "{"x" * 100}"' in str(refusal(("x" * length + "\n").encode(), name="deck.csv"))
