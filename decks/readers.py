"""Reading uploaded deck files: Anki packages (.apkg, .colpkg) and CSV with a front,back[,category] header.

`open_deck` either refuses the whole file with a DeckError (its code and message are for the client) or
yields a Deck whose notes() are Notes and, for rows the caller must count as skipped, Problems.
An Anki collection is unpacked, within the caller's size limit, into a temporary file that is removed when
the `with` ends. Nothing here touches Django: the caller passes the limits in.
"""

import codecs
import csv
import io
import json
import math
import re
import sqlite3
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import zstandard

from decks.text import html_to_text, normalise

ZIP_MAGIC = b"PK\x03\x04"
ANKI_SUFFIXES = (".apkg", ".colpkg")
ANKI21B = "collection.anki21b"
COLLECTIONS = (ANKI21B, "collection.anki21", "collection.anki2")  # the first one present wins
CHUNK_BYTES = 64 * 1024
BOMB_MIN_BYTES = 1024 * 1024
BOMB_RATIO = 100
# Note: Anki compresses with zstd's default level (a 2 MiB window); the library default would let a crafted
# frame make the decompressor allocate 128 MiB.
ZSTD_MAX_WINDOW = 16 * 1024 * 1024
TITLE_CHARS = 200
CATEGORY_CHARS = 100
DEFAULT_DECK_ID = 1
CARD_TYPE_REVIEW = 2
CARD_TYPES_LEARNING = (1, 3)  # learning, relearning
QUEUE_SUSPENDED = -1
QUEUES_LEARNING = (1, 3, QUEUE_SUSPENDED)  # within the day, a day or more ahead, or suspended while learning
DAY_NUMBERS_BELOW = 1_000_000_000  # a learning card's `due` above this is a moment (epoch seconds), not a day
CSV_DELIMITERS = ",;\t|"
CSV_HEADERS = (["front", "back"], ["front", "back", "category"])

# What zipfile raises for a damaged or unsupported archive (a bad offset is a ValueError, an unknown
# version or flag a NotImplementedError).
_UNREADABLE_ZIP = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError)
# Note: when a damaged schema makes SQLite's error message quote bytes that are not UTF-8, Python fails to
# decode the message and raises UnicodeDecodeError instead of the DatabaseError.
_UNREADABLE_DB = (sqlite3.DatabaseError, UnicodeDecodeError)
_MEDIA_NAME = re.compile(r"[0-9]+")
_FIRST_LINE = re.compile(r"[^\r\n]*")
# The first card of each note (lowest ord), as a window rather than a correlated subquery, so the cost does
# not depend on whether the uploaded file kept its index on cards.nid.
# `data`: the card's FSRS memory state in Anki 23.10 and later ({"s": stability, "d": difficulty}), absent
# from older collections.
_NOTES_QUERY = """
SELECT CAST(notes.flds AS TEXT), first.id, first.did, first.type, first.queue, first.due, first.ivl,
    CAST(first.data AS TEXT)
FROM notes LEFT JOIN (
    SELECT id, nid, did, type, queue, due, ivl, {data} AS data,
        row_number() OVER (PARTITION BY nid ORDER BY ord, id) AS rank
    FROM cards
) AS first ON first.nid = notes.id AND first.rank = 1
ORDER BY notes.id
LIMIT -1 OFFSET ?
"""
# The review log of a chunk of cards, oldest first; Anki keeps an index on revlog.cid.
_REVLOG_QUERY = """
SELECT cid, id, ease, type, time FROM revlog WHERE cid IN ({cards}) ORDER BY cid, id
"""
# Note: a chunk's review log is one query; a file without Anki's index on revlog.cid costs a scan of the
# log per chunk, so the chunks are large.
REVLOG_CHUNK = 500
REVLOG_MANUAL = 4  # revlog.type of a manual reschedule (Anki 2.1.50+ also writes 5: rescheduled)
MAX_ANSWER_SECONDS = 86_400


@dataclass(frozen=True)
class Limits:
    max_collection_bytes: int  # the unpacked collection (SQLite) may not exceed this
    max_notes: int  # notes (Anki) or data rows (CSV) per file


@dataclass(frozen=True)
class Review:
    """Where Anki had the card: a review card (state 2) due on a day, or a learning (1) or relearning (3)
    card due on a day or, within a day, at a moment (`due_at`); its FSRS memory state if Anki kept one."""

    interval_days: int
    due: date
    suspended: bool
    state: int = CARD_TYPE_REVIEW
    due_at: datetime | None = None
    stability: float | None = None
    difficulty: float | None = None


@dataclass(frozen=True)
class Answer:
    """One review from Anki's review log: when, the button (1 again .. 4 easy), the seconds it took."""

    at: datetime
    ease: int
    seconds: int | None  # None: Anki recorded no time


@dataclass(frozen=True)
class Note:
    line: int  # CSV: the file's line number where the row starts; Anki: 1-based ordinal of the note
    title: str  # normalised text, may be "" (the caller reports it as an error)
    body: str
    category: str | None  # None: no category
    review: Review | None = None  # None: a new card (or one whose schedule cannot be read)
    history: tuple[Answer, ...] = ()  # the card's answers, oldest first
    manual: int = 0  # entries of its review log that are no answers (manual reschedules), left out


@dataclass(frozen=True)
class Problem:
    """A row the caller must count as skipped, with this message."""

    line: int
    message: str


class DeckError(ValueError):
    """The whole file is refused; str(error) is the message for the client and .code says why."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


class Deck(Protocol):
    format: str  # "csv" or "apkg"
    total: int  # number of items notes() yields
    media: int  # media files in the package (0 for CSV)

    def notes(self, *, start: int = 0) -> Iterator[Note | Problem]:
        """In a stable order; `start` skips the first `start` items (a retried job resumes)."""
        ...


@contextmanager
def open_deck(file: BinaryIO, *, name: str, limits: Limits) -> Iterator[Deck]:
    """The file's Deck, valid until the `with` ends; DeckError if the whole file is refused."""
    if _starts_with_zip_magic(file):
        with _open_anki(file, limits=limits) as deck:
            yield deck
    elif name.lower().endswith(ANKI_SUFFIXES):
        raise DeckError("The file is named as an Anki package but is not a zip file.", code="not_a_zip")
    else:
        yield _read_csv(file.read(), limits=limits)


def _starts_with_zip_magic(file: BinaryIO) -> bool:
    file.seek(0)
    magic = file.read(len(ZIP_MAGIC))
    file.seek(0)
    return magic == ZIP_MAGIC


# Anki


@dataclass(frozen=True)
class _AnkiDeck:
    connection: sqlite3.Connection
    total: int
    media: int
    deck_names: dict[int, str]
    day_zero: date  # the collection's creation day: review cards' `due` counts days from it
    notes_query: str
    has_revlog: bool
    format: str = "apkg"

    def notes(self, *, start: int = 0) -> Iterator[Note | Problem]:
        try:
            rows = self.connection.execute(self.notes_query, (start,))
            line = start
            while chunk := rows.fetchmany(REVLOG_CHUNK):
                logs = self._logs([card_id for _, card_id, *_ in chunk])
                for fields, card_id, *card, data in chunk:
                    line += 1
                    yield self._note(line, fields or "", *map(_integer, card), data=data, log=logs.get(card_id, []))
        except _UNREADABLE_DB as error:
            raise _corrupt("Part of the collection cannot be read.") from error

    def _logs(self, card_ids: list) -> dict[int, list[tuple]]:
        """The review log of these cards, per card."""
        card_ids = [card_id for card_id in card_ids if isinstance(card_id, int)]
        if not self.has_revlog or not card_ids:
            return {}
        logs: dict[int, list[tuple]] = {}
        query = _REVLOG_QUERY.format(cards=", ".join("?" * len(card_ids)))
        for card_id, *entry in self.connection.execute(query, card_ids):
            logs.setdefault(card_id, []).append(tuple(map(_integer, entry)))
        return logs

    def _note(
        self, line: int, fields: str, deck_id: int, card_type: int, queue: int, due: int, ivl: int, *, data, log
    ) -> Note:
        front, *rest = (html_to_text(field) for field in fields.split("\x1f"))
        history = tuple(answer for entry in log if (answer := _answer(*entry)) is not None)
        return Note(
            line=line,
            title=_shorten(front, limit=TITLE_CHARS),
            body="\n\n".join(field for field in rest if field),
            category=self._category(deck_id),
            review=self._review(card_type=card_type, queue=queue, due=due, ivl=ivl, memory=_memory(data)),
            history=history,
            manual=len(log) - len(history),
        )

    def _category(self, deck_id: int) -> str | None:
        if deck_id == DEFAULT_DECK_ID:
            return None
        return _shorten(normalise(self.deck_names.get(deck_id, "")), limit=CATEGORY_CHARS) or None

    def _review(self, *, card_type: int, queue: int, due: int, ivl: int, memory: dict) -> Review | None:
        learning = card_type in CARD_TYPES_LEARNING and queue in QUEUES_LEARNING
        if not learning and (card_type != CARD_TYPE_REVIEW or ivl <= 0):
            return None
        try:
            # Note: a learning card due within the day is due at a moment (epoch seconds), as Anki tells them apart.
            due_at = datetime.fromtimestamp(due, UTC) if learning and due > DAY_NUMBERS_BELOW else None
            due_date = due_at.date() if due_at else self.day_zero + timedelta(days=due)
        except (OverflowError, OSError, ValueError):
            return None  # Note: a due date off the calendar is damage; the card starts over like a new one
        suspended = queue == QUEUE_SUSPENDED
        return Review(interval_days=ivl, due=due_date, suspended=suspended, state=card_type, due_at=due_at, **memory)


def _answer(moment: int, ease: int, kind: int, spent: int) -> Answer | None:
    """A review-log entry as an answer; None for a manual reschedule (ease 0) or a damaged entry."""
    if not 1 <= ease <= 4 or kind >= REVLOG_MANUAL:
        return None
    try:
        at = datetime.fromtimestamp(moment / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    seconds = None if spent <= 0 else min(round(spent / 1000), MAX_ANSWER_SECONDS)
    return Answer(at=at, ease=ease, seconds=seconds)


def _memory(data: str | None) -> dict:
    """The FSRS stability and difficulty of a card's `data`, when both are there and are numbers."""
    try:
        memory = json.loads(data or "{}")
        stability, difficulty = float(memory["s"]), float(memory["d"])
    except (ValueError, TypeError, KeyError, RecursionError):
        return {}
    if not (math.isfinite(stability) and math.isfinite(difficulty)):
        return {}
    return {"stability": stability, "difficulty": difficulty}


@contextmanager
def _open_anki(file: BinaryIO, *, limits: Limits) -> Iterator[_AnkiDeck]:
    with _open_zip(file) as archive, tempfile.TemporaryDirectory(prefix="deck-") as directory:
        path = Path(directory) / "collection.sqlite"
        with path.open("wb") as target:
            _unpack(archive, _collection_member(archive), into=target, limit=limits.max_collection_bytes)
        with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro&immutable=1", uri=True)) as connection:
            yield _read_collection(connection, media=_media_count(archive), limits=limits)


def _open_zip(file: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except _UNREADABLE_ZIP as error:
        raise DeckError("The file is not a readable zip file, so not an Anki package.", code="not_a_zip") from error


def _collection_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    names = set(archive.namelist())
    member = next((name for name in COLLECTIONS if name in names), None)
    if member is None:
        raise DeckError(f"The package holds none of {', '.join(COLLECTIONS)}.", code="no_collection")
    return archive.getinfo(member)


def _media_count(archive: zipfile.ZipFile) -> int:
    return sum(1 for name in archive.namelist() if _MEDIA_NAME.fullmatch(name))


def _unpack(archive: zipfile.ZipFile, member: zipfile.ZipInfo, *, into: BinaryIO, limit: int) -> None:
    _check_member(member, limit=limit)
    try:
        with _member_stream(archive, member) as stream:
            _copy(stream, into=into, limit=limit)
    except DeckError:
        raise  # a ValueError too, but already the right one
    except (*_UNREADABLE_ZIP, zstandard.ZstdError) as error:
        raise _corrupt("The collection in the package is damaged and cannot be unpacked.") from error


def _check_member(member: zipfile.ZipInfo, *, limit: int) -> None:
    if member.flag_bits & 0x1:
        raise _corrupt("The collection in the package is encrypted.")
    if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _corrupt("The collection in the package is compressed in a way Anki does not use.")
    if member.file_size > limit:
        raise _too_large(limit)
    if member.file_size > BOMB_MIN_BYTES and member.file_size > BOMB_RATIO * member.compress_size:
        claimed = f"{_megabytes(member.file_size)}, over {BOMB_RATIO} times its packed size"
        message = f"The collection looks like a zip bomb: it claims to unpack to {claimed}."
        raise DeckError(message, code="too_large")


@contextmanager
def _member_stream(archive: zipfile.ZipFile, member: zipfile.ZipInfo) -> Iterator[BinaryIO]:
    with archive.open(member) as packed:
        if member.filename != ANKI21B:
            yield packed
            return
        decompressor = zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        with decompressor.stream_reader(packed, read_across_frames=True, closefd=False) as stream:
            yield stream


def _copy(stream: BinaryIO, *, into: BinaryIO, limit: int) -> None:
    # Note: counted here and not trusted from the zip header: anki21b's zstd frame is inside the zip member,
    # so its unpacked size is declared nowhere the zip checks.
    copied = 0
    while chunk := stream.read(CHUNK_BYTES):
        copied += len(chunk)
        if copied > limit:
            raise _too_large(limit)
        into.write(chunk)


def _read_collection(connection: sqlite3.Connection, *, media: int, limits: Limits) -> _AnkiDeck:
    try:
        tables = _prepare(connection, limits=limits)
        total = connection.execute("SELECT count(*) FROM notes").fetchone()[0]
        if total > limits.max_notes:
            raise _too_many_notes(limits.max_notes)
        return _AnkiDeck(
            connection=connection,
            total=total,
            media=media,
            deck_names=_deck_names(connection, tables=tables),
            day_zero=_day_zero(connection),
            notes_query=_NOTES_QUERY.format(data="data" if _has_column(connection, "cards", "data") else "''"),
            has_revlog="revlog" in tables,
        )
    except _UNREADABLE_DB as error:
        raise _corrupt("The package's collection is not a readable Anki collection.") from error


def _prepare(connection: sqlite3.Connection, *, limits: Limits) -> set[str]:
    """Sets the connection up for an untrusted file; returns the names of its tables."""
    connection.execute("PRAGMA trusted_schema=OFF")
    # Note: no value read can be longer than the file could hold, whatever a crafted generated column computes.
    connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limits.max_collection_bytes)
    connection.text_factory = _text
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    # Note: real tables only: a view named notes could compute rows without end.
    missing = {"col", "notes", "cards"} - tables
    if missing:
        raise _corrupt(f"The package's collection has no {', '.join(sorted(missing))} table.")
    return tables


def _has_column(connection: sqlite3.Connection, table: str, column: str) -> bool:
    return any(row[1] == column for row in connection.execute(f"PRAGMA table_info({table})"))


def _deck_names(connection: sqlite3.Connection, *, tables: set[str]) -> dict[int, str]:
    if "decks" in tables:  # schema 18 (anki21b): nested levels are separated by \x1f
        rows = connection.execute("SELECT id, CAST(name AS TEXT) FROM decks")
        return {_integer(deck_id): (name or "").replace("\x1f", "::") for deck_id, name in rows}
    (decks,) = connection.execute("SELECT CAST(decks AS TEXT) FROM col").fetchone() or ("",)
    return _legacy_deck_names(decks or "")


def _legacy_deck_names(decks: str) -> dict[int, str]:
    """Schema 11 (anki2, anki21): col.decks is a JSON object {id: {"name": ...}}."""
    try:
        return {int(deck_id): str(deck["name"]) for deck_id, deck in json.loads(decks).items()}
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError) as error:
        raise _corrupt("The package's collection has an unreadable list of decks.") from error


def _day_zero(connection: sqlite3.Connection) -> date:
    (created,) = connection.execute("SELECT crt FROM col").fetchone() or (None,)
    try:
        return datetime.fromtimestamp(created, UTC).date()
    except (TypeError, ValueError, OverflowError, OSError) as error:
        raise _corrupt("The package's collection has no valid creation date.") from error


def _text(value: bytes) -> str:
    return value.decode("utf-8", errors="replace")


def _integer(value: Any) -> int:
    """A card column as an int; SQLite lets a crafted file store anything, and it then counts as 0."""
    return value if isinstance(value, int) else 0


def _shorten(text: str, *, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _corrupt(message: str) -> DeckError:
    return DeckError(message, code="corrupt_collection")


def _too_large(limit: int) -> DeckError:
    return DeckError(f"The unpacked collection is larger than the limit of {_megabytes(limit)}.", code="too_large")


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.1f}".removesuffix(".0") + " MB"


def _too_many_notes(limit: int) -> DeckError:
    return DeckError(f"The file has more than the limit of {limit} notes.", code="too_many_notes")


# CSV


@dataclass(frozen=True)
class _CsvDeck:
    items: list[Note | Problem]
    total: int
    format: str = "csv"
    media: int = 0

    def notes(self, *, start: int = 0) -> Iterator[Note | Problem]:
        yield from islice(self.items, start, None)


def _read_csv(data: bytes, *, limits: Limits) -> _CsvDeck:
    text = _decode(data)
    header = _FIRST_LINE.match(text).group()
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(header))
    columns = len(next(reader))
    items: list[Note | Problem] = []
    for line, row in _csv_rows(reader):
        if len(items) == limits.max_notes:
            raise _too_many_notes(limits.max_notes)
        items.append(_csv_item(line, row, columns=columns))
    return _CsvDeck(items=items, total=len(items))


def _decode(data: bytes) -> str:
    text = data.removeprefix(codecs.BOM_UTF8)
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as error:
        offset = len(data) - len(text) + error.start
        message = f"The file must be UTF-8 text; the byte at offset {offset} is not valid UTF-8."
        raise DeckError(message, code="csv_encoding") from error


def _delimiter(header: str) -> str:
    # Note: the delimiter is whichever one makes the first line the header. csv.Sniffer guesses from the
    # whole sample and can be fooled by quoted cells: it reads our own export of the title '";' as ;-separated.
    for delimiter in CSV_DELIMITERS:
        if _header_cells(header, delimiter=delimiter) in CSV_HEADERS:
            return delimiter
    message = f'The first line must be the header "front,back" or "front,back,category"; found "{header[:100]}".'
    raise DeckError(message, code="csv_header")


def _header_cells(header: str, *, delimiter: str) -> list[str]:
    try:
        return [cell.strip().lower() for cell in next(csv.reader([header], delimiter=delimiter), [])]
    except csv.Error:  # e.g. a "header" longer than the csv module's field limit
        return []


def _csv_rows(reader: Any) -> Iterator[tuple[int, list[str] | csv.Error]]:
    """(the line the row starts on, its cells or why it cannot be read) for each row that is not blank."""
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield line, error
            continue
        if any(cell.strip() for cell in row):
            yield line, row


def _csv_item(line: int, row: list[str] | csv.Error, *, columns: int) -> Note | Problem:
    if isinstance(row, csv.Error):
        return Problem(line=line, message=f"the row cannot be read: {row}")
    if len(row) != columns:
        return Problem(line=line, message=f"expected {columns} columns, found {len(row)}")
    category = normalise(row[2]) if columns == 3 else ""
    return Note(line=line, title=normalise(row[0]), body=normalise(row[1]), category=category or None)
