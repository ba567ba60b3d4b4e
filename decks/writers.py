"""Writing exports: CSV lines for a streaming response, and Anki packages.

A card is (title, body, category) with category None for an uncategorised card. Both formats read back
through decks.readers to the same cards, for cards whose text is normal (decks.text.normalise).
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
from pathlib import Path

import genanki

from decks.text import text_to_html

Card = tuple[str, str, str | None]

CSV_HEADER = ("front", "back", "category")
# Fixed, so that every export is one note type in Anki: a re-import matches it rather than adding another.
MODEL_ID = 1_607_392_319
DEFAULT_DECK_ID = 1
DEFAULT_DECK_NAME = "Default"


def csv_lines(cards: Iterable[Card]) -> Iterator[str]:
    """The header line, then a line per card, each as soon as its card comes (for a StreamingHttpResponse)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows = ((title, body, category or "") for title, body, category in cards)
    for row in itertools.chain([CSV_HEADER], rows):
        writer.writerow(row)
        yield _taken(buffer)


def write_apkg(cards: Iterable[Card], *, path: str) -> None:
    """An Anki package at `path`: a deck per category, uncategorised cards in Anki's Default deck."""
    package = genanki.Package(_decks(cards))
    # Note: genanki's Package.write_to_file leaves its temporary SQLite file behind, so the collection is
    # written here, into a directory that is removed.
    with tempfile.TemporaryDirectory(prefix="export-") as directory:
        collection = Path(directory) / "collection.anki2"
        _write_collection(package, path=collection)
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


def _decks(cards: Iterable[Card]) -> list[genanki.Deck]:
    model = _model()
    # Note: genanki's empty collection already holds Default (id 1); a Deck with that id replaces it rather
    # than adding a second deck named Default. It is always written, with the model, so that an export
    # without cards is still a collection with the note type.
    default = genanki.Deck(deck_id=DEFAULT_DECK_ID, name=DEFAULT_DECK_NAME)
    default.add_model(model)
    decks: dict[str | None, genanki.Deck] = {None: default}
    for title, body, category in cards:
        if category and category not in decks:
            decks[category] = genanki.Deck(deck_id=_deck_id(category), name=category)
        decks[category or None].add_note(_note(model, title=title, body=body))
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


def _write_collection(package: genanki.Package, *, path: Path) -> None:
    timestamp = time.time()
    with closing(sqlite3.connect(path)) as connection:
        cursor = connection.cursor()
        package.write_to_db(cursor, timestamp, itertools.count(int(timestamp * 1000)))
        _dedupe_models(cursor)
        connection.commit()


def _dedupe_models(cursor: sqlite3.Cursor) -> None:
    # Note: each genanki Deck adds its models under an int key to JSON read back with str keys, so col.models
    # names the model once per deck; a JSON round trip keeps the last of each.
    (models,) = cursor.execute("SELECT models FROM col").fetchone()
    cursor.execute("UPDATE col SET models = ?", (json.dumps(json.loads(models)),))
