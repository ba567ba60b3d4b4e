"""Writing exports: CSV lines for a streaming response, and Anki packages.

A card is (title, body, category) with category None for an uncategorised card, and for an Anki package
where it stands and its history (a `Card`). Both formats read back through decks.readers to the same cards,
for cards whose text is normal (decks.text.normalise); a package to the same schedules and answers too.
"""

import csv
import hashlib
import io
import itertools
import json
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import genanki

from decks.readers import CARD_TYPE_REVIEW, QUEUE_SUSPENDED, Answer, Review
from decks.text import text_to_html


class Card(NamedTuple):
    title: str
    body: str
    category: str | None
    review: Review | None = None  # None: a new card
    history: tuple[Answer, ...] = ()  # oldest first
    lapses: int = 0


CSV_HEADER = ("front", "back", "category")
# Fixed, so that every export is one note type in Anki: a re-import matches it rather than adding another.
MODEL_ID = 1_607_392_319
DEFAULT_DECK_ID = 1
DEFAULT_DECK_NAME = "Default"
QUEUE_LEARNING, QUEUE_DAY_LEARNING = 1, 3
FACTOR = 2500  # Anki's starting ease (250%), which its own scheduler needs on a card that was answered
REVLOG_LEARN, REVLOG_REVIEW = 0, 1
_CARD_UPDATE = (
    "UPDATE cards SET type = ?, queue = ?, due = ?, ivl = ?, factor = ?, reps = ?, lapses = ?, data = ? WHERE id = ?"
)


def csv_lines(cards: Iterable[Card]) -> Iterator[str]:
    """The header line, then a line per card, each as soon as its card comes (for a StreamingHttpResponse)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows = ((title, body, category or "") for title, body, category, *_ in cards)
    for row in itertools.chain([CSV_HEADER], rows):
        writer.writerow(row)
        yield _taken(buffer)


def write_apkg(cards: Iterable[Card | tuple], *, path: str) -> None:
    """An Anki package at `path`: a deck per category, uncategorised cards in Anki's Default deck; each card
    where it stands (Anki's card columns, the FSRS memory state in `data`) and its answers (the review log)."""
    answered: dict[str, Card] = {}  # by note guid
    package = genanki.Package(_decks((Card(*card) for card in cards), answered=answered))
    # Note: genanki's Package.write_to_file leaves its temporary SQLite file behind, so the collection is
    # written here, into a directory that is removed.
    with tempfile.TemporaryDirectory(prefix="export-") as directory:
        collection = Path(directory) / "collection.anki2"
        _write_collection(package, answered, path=collection)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(collection, "collection.anki2")
            archive.writestr("media", "{}")


def _taken(buffer: io.StringIO) -> str:
    """What the buffer holds, leaving it empty."""
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _deck_id(name: str) -> int:
    """A stable id for a category's deck: 48 bits of its name's SHA-1, plus 2 so it is never Default's 1."""
    # Note: under 2**53, like the millisecond timestamps Anki itself uses as ids, so any JSON reader keeps it exact.
    return int.from_bytes(hashlib.sha1(name.encode()).digest()[:6], "big") + 2


def _decks(cards: Iterable[Card], *, answered: dict[str, Card]) -> list[genanki.Deck]:
    model = _model()
    # Note: genanki's empty collection already holds Default (id 1); a Deck with that id replaces it rather
    # than adding a second deck named Default. It is always written, with the model, so that an export
    # without cards is still a collection with the note type.
    default = genanki.Deck(deck_id=DEFAULT_DECK_ID, name=DEFAULT_DECK_NAME)
    default.add_model(model)
    decks: dict[str | None, genanki.Deck] = {None: default}
    for card in cards:
        category = card.category
        if category and category not in decks:
            decks[category] = genanki.Deck(deck_id=_deck_id(category), name=category)
        note = _note(model, title=card.title, body=card.body)
        decks[category or None].add_note(note)
        if card.review or card.history:
            answered[note.guid] = card
    return list(decks.values())


def _model() -> genanki.Model:
    # Note: built per export, because genanki fills its field and template dicts in when it writes them.
    return genanki.Model(
        model_id=MODEL_ID,
        name="Resee",
        fields=[{"name": "Front"}, {"name": "Back"}],
        templates=[{"name": "Card 1", "qfmt": "{{Front}}", "afmt": '{{FrontSide}}<hr id="answer">{{Back}}'}],
    )


def _note(model: genanki.Model, *, title: str, body: str) -> genanki.Note:
    fields = [text_to_html(title), text_to_html(body)]
    return genanki.Note(model=model, fields=fields, guid=genanki.guid_for(title, body))


def _write_collection(package: genanki.Package, answered: dict[str, Card], *, path: Path) -> None:
    timestamp = time.time()
    with closing(sqlite3.connect(path)) as connection:
        cursor = connection.cursor()
        package.write_to_db(cursor, timestamp, itertools.count(int(timestamp * 1000)))
        _dedupe_models(cursor)
        _write_schedules(cursor, answered)
        connection.commit()


def _write_schedules(cursor: sqlite3.Cursor, answered: dict[str, Card]) -> None:
    """Where each answered card stands, and its answers, on the cards genanki wrote (one per note)."""
    (created,) = cursor.execute("SELECT crt FROM col").fetchone()
    day_zero = datetime.fromtimestamp(created, UTC).date()
    card_ids = dict(cursor.execute("SELECT notes.guid, cards.id FROM notes JOIN cards ON cards.nid = notes.id"))
    columns, log, taken = [], [], set()
    for guid, card in answered.items():
        columns.append((*_card_columns(card, day_zero=day_zero), card_ids[guid]))
        log += [
            (_log_id(answer, taken), card_ids[guid], *_log_columns(answer, first=not i))
            for i, answer in enumerate(card.history)
        ]
    cursor.executemany(_CARD_UPDATE, columns)
    cursor.executemany("INSERT INTO revlog VALUES (?, ?, -1, ?, 0, 0, 0, ?, ?)", log)


def _card_columns(card: Card, *, day_zero) -> tuple:
    """type, queue, due, ivl, factor, reps, lapses, data."""
    reps, lapses, review = len(card.history), card.lapses, card.review
    if review is None:
        return 0, 0, 0, 0, 0, reps, lapses, ""
    if review.due_at is not None and review.state != CARD_TYPE_REVIEW:
        queue, due = QUEUE_LEARNING, int(review.due_at.timestamp())
    else:
        queue = CARD_TYPE_REVIEW if review.state == CARD_TYPE_REVIEW else QUEUE_DAY_LEARNING
        due = (review.due - day_zero).days
    queue = QUEUE_SUSPENDED if review.suspended else queue
    memory = json.dumps({"s": review.stability, "d": review.difficulty}) if review.stability is not None else ""
    return review.state, queue, due, review.interval_days, FACTOR, reps, lapses, memory


def _log_id(answer: Answer, taken: set[int]) -> int:
    """The answer's moment in ms, made unique as Anki makes its review log's ids: one more while taken."""
    moment = int(answer.at.timestamp() * 1000)
    while moment in taken:
        moment += 1
    taken.add(moment)
    return moment


def _log_columns(answer: Answer, *, first: bool) -> tuple:
    """ease, time, type."""
    return answer.ease, (answer.seconds or 0) * 1000, REVLOG_LEARN if first else REVLOG_REVIEW


def _dedupe_models(cursor: sqlite3.Cursor) -> None:
    # Note: each genanki Deck adds its models under an int key to JSON read back with str keys, so col.models
    # names the model once per deck; a JSON round trip keeps the last of each.
    (models,) = cursor.execute("SELECT models FROM col").fetchone()
    cursor.execute("UPDATE col SET models = ?", (json.dumps(json.loads(models)),))
