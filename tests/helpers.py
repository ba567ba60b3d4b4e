"""What the tests share, in one module: time (a movable clock, fixed moments), builders that
write through the services, API shortcuts, the cached endpoints' ground truth (the same request
with the cache off), Redis entry probes and recorders, tokens and clocks for the account tests,
threads started at once, and deck files (Anki collections by hand or by genanki, zips) with the
import shortcuts. Servers the tests start and stop are in tests/servers.py."""

import contextlib
import functools
import io
import itertools
import json
import re
import sqlite3
import tempfile
import threading
import time
import zipfile
from contextlib import closing
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from unittest import mock

import genanki
import pytest
import zstandard
from django.conf import settings
from django.db import connection
from django.test import TestCase, override_settings
from rest_framework.test import APIClient

from content.models import Category, Content
from content.services import category_create, content_create
from review.models import ReviewHistory, ReviewSchedule
from review.services import history_record, review_complete
from tests.servers import DownRedis
from utils import redis_layer
from utils.cache_utils import store
from utils.cache_utils.conf import TODAY as TODAY_NAMESPACE

DEFAULT_PASSWORD = "correct-horse-battery-9"


# --- Time and builders ------------------------------------------------------------------------------


# A fixed, ordinary moment: midday UTC, so the UTC and the local date agree unless a test says not.
NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
LADDER = [1, 3, 7, 14, 30, 60, 120, 180]
TOP_STEP = len(LADDER) - 1


def days(n: int) -> timedelta:
    return timedelta(days=n)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Clock:
    """What `utils.clock.now()` answers; `clock.now = ...` or `clock.advance(days=3)` moves it."""

    def __init__(self, moment: datetime):
        self.now = moment

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def today(self) -> date:
        from utils.clock import local_date

        return local_date(self.now)


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    """Every review/analytics test runs at NOW unless it moves the clock."""
    frozen = Clock(NOW)
    monkeypatch.setattr("utils.clock.now", lambda: frozen.now)
    return frozen


def _user_id(who) -> int:
    """Accept a user, or a logged-in test client (which carries `.user`)."""
    return getattr(who, "user", who).id


def make_category(who, name: str, slug: str | None = None) -> Category:
    return category_create(owner_id=_user_id(who), name=name, slug=slug)


_card_numbers = itertools.count(1)


def make_card(
    who,
    title: str | None = None,
    *,
    category: Category | None = None,
    due: date | None = None,
    step: int | None = None,
    initial: bool | None = None,
    active: bool | None = None,
) -> Content:
    """Content created the way the API creates it (with its schedule), then, if asked, its
    schedule moved to the given state. Untitled, it gets a title of its own (an owner's cards are
    unique)."""
    title = title or f"Card {next(_card_numbers)}"
    content = content_create(owner_id=_user_id(who), title=title, category_id=category.id if category else None)
    changes = {
        "next_review_date": due,
        "interval_step": step,
        "initial_review_completed": initial,
        "is_active": active,
    }
    changes = {field: value for field, value in changes.items() if value is not None}
    if changes:
        ReviewSchedule.objects.filter(content=content).update(**changes)
    return content


def schedule_of(content: Content) -> ReviewSchedule:
    return ReviewSchedule.objects.get(content=content)


def set_learner(who, **settings) -> None:
    """The learner's settings changed as a PATCH of /api/auth/me/ changes them."""
    from accounts.selectors import learner_of
    from accounts.services import learner_update

    learner_update(learner=learner_of(user_id=_user_id(who)), changes=settings)


def make_history(who, content: Content, result: str = "remembered", *, at: datetime = NOW, seconds=None):
    """A review made at `at`, recorded as a completion records it (history and tallies)."""
    return history_record(
        user_id=_user_id(who), content_id=content.id, result=result, time_spent_seconds=seconds, reviewed_at=at
    )


def history_of(who) -> list[ReviewHistory]:
    return list(ReviewHistory.objects.filter(user_id=_user_id(who)).order_by("id"))


def complete(client, content, result: str = "remembered", **extra):
    content_id = content.id if isinstance(content, Content) else content
    return client.post("/api/review/complete/", {"content_id": content_id, "result": result, **extra})


def today_list(client, **params):
    return client.get("/api/review/today/", params)


def due_content_ids(client, **params) -> list[int]:
    response = today_list(client, **params)
    assert response.status_code == 200, response.content
    return [item["content_id"] for item in response.json()["results"]]


# --- The API ----------------------------------------------------------------------------------------


CATEGORIES = "/api/content/categories/"
CONTENTS = "/api/content/"


def category_url(pk: int) -> str:
    return f"{CATEGORIES}{pk}/"


def content_url(pk: int) -> str:
    return f"{CONTENTS}{pk}/"


def create_category(client, name: str, slug: str | None = None) -> dict:
    payload = {"name": name} if slug is None else {"name": name, "slug": slug}
    response = client.post(CATEGORIES, payload)
    assert response.status_code == 201, response.content
    return response.json()


def create_content(client, title: str = "A card", **fields) -> dict:
    response = client.post(CONTENTS, {"title": title, **fields})
    assert response.status_code == 201, response.content
    return response.json()


def list_contents(client, **params):
    """GET the content list with `params` as the query string (values are URL-encoded)."""
    return client.get(CONTENTS, params)


def listed_titles(client, **params) -> list[str]:
    response = list_contents(client, **params)
    assert response.status_code == 200, response.content
    return [item["title"] for item in response.json()["results"]]


def assert_rejected(response, field: str, status: int = 400) -> None:
    """A JSON error that names `field`."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in response.json(), response.json()


# --- Cached endpoints -------------------------------------------------------------------------------


URLS = {
    "today": "/api/review/today/",
    "stats": "/api/analytics/stats/",
    "content": "/api/content/",
}
ENDPOINTS = tuple(URLS)
HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"


def cache_off():
    """Every read computed from the database (X-Cache: BYPASS): what the cache must agree with."""
    return override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "ENABLED": False})


# What pytest-django's `django_capture_on_commit_callbacks` fixture is: `with committed():` runs
# the block's on-commit callbacks at its end, as a real commit would.
committed = functools.partial(TestCase.captureOnCommitCallbacks, execute=True)


def fetch(client, endpoint: str, params: dict | None = None, *, cache: str | None = None, status: int = 200, **extra):
    """GET a cached endpoint; check the status and, if given, the X-Cache result."""
    response = client.get(URLS[endpoint], params or {}, **extra)
    assert response.status_code == status, (endpoint, params, response.status_code, response.content)
    if cache is not None:
        assert response["X-Cache"] == cache, f"{endpoint} {params or {}}: X-Cache {response['X-Cache']}, not {cache}"
    return response


def warm(client, endpoint: str, params: dict | None = None, **extra):
    """Fill the entry (whatever the first GET was) and prove it is there: returns the HIT."""
    fetch(client, endpoint, params, **extra)
    return fetch(client, endpoint, params, cache=HIT, **extra)


def uncached(client, endpoint: str, params: dict | None = None, **extra):
    """What the endpoint answers with the cache switched off: the ground truth."""
    with cache_off():
        return fetch(client, endpoint, params, cache=BYPASS, **extra)


def assert_fresh(client, endpoint: str, params: dict | None = None, **extra):
    """The next GET recomputes (MISS) and answers what the database says now."""
    response = fetch(client, endpoint, params, cache=MISS, **extra)
    assert response.json() == uncached(client, endpoint, params, **extra).json()
    return response


def titles(response) -> list[str]:
    """Titles in a today or content-list answer."""
    return [item["title"] for item in response.json()["results"]]


def api_complete(client, content_id: int, result: str = "remembered") -> dict:
    response = client.post("/api/review/complete/", {"content_id": content_id, "result": result})
    assert response.status_code == 200, response.content
    return response.json()


def seed(client, prefix: str = "") -> dict:
    """A small but non-trivial account: a category with two cards, one loose card already
    reviewed (so today's list, the stats and the content list all have something to show).
    Written through the services in one committed block, as the API would, only faster."""
    owner_id = client.user.id
    with committed():
        langs = category_create(owner_id=owner_id, name=f"{prefix}Languages", slug=f"{prefix.lower()}langs")
        hola = content_create(owner_id=owner_id, title=f"{prefix}hola", body="hello", category_id=langs.id)
        bonjour = content_create(owner_id=owner_id, title=f"{prefix}bonjour", category_id=langs.id)
        pi = content_create(owner_id=owner_id, title=f"{prefix}pi", body="3.14159")
        review_complete(user_id=owner_id, content_id=pi.id, result="remembered")
    return {
        name: {"id": row.id} for name, row in [("category", langs), ("hola", hola), ("bonjour", bonjour), ("pi", pi)]
    }


# --- Redis entries ----------------------------------------------------------------------------------


def put_entry(user_id: int, namespace: str = TODAY_NAMESPACE, params: dict | None = None, body: bytes = b"{}") -> str:
    """Store an entry the way a miss of the read path does; return the token it is tagged with."""
    version = store.claim_version(user_id=user_id, namespace=namespace)
    store.store(
        user_id=user_id, namespace=namespace, params=params or {}, version=version, body=body, compute_seconds=0.01
    )
    return version


def is_served(user_id: int, namespace: str = TODAY_NAMESPACE, params: dict | None = None) -> bool:
    try:
        store.lookup(user_id=user_id, namespace=namespace, params=params or {})
    except store.CacheMiss:
        return False
    return True


def token_of(user_id: int, namespace: str = TODAY_NAMESPACE) -> str | None:
    """The namespace token as stored in Redis, without creating one."""
    raw = store.client().get(store.namespace_key(user_id, namespace))
    return raw.decode() if raw is not None else None


class RecordingClient:
    """Stands in for the cache's Redis client: forwards everything to the real client and records each
    command as one round trip. A pipeline counts once, when it is executed."""

    def __init__(self, real):
        self._real = real
        self.calls: list[tuple[str, tuple]] = []

    def pipeline(self, *args, **kwargs):
        return _RecordingPipeline(self._real.pipeline(*args, **kwargs), self.calls)

    def __getattr__(self, name):
        attribute = getattr(self._real, name)
        if not callable(attribute):
            return attribute

        def record(*args, **kwargs):
            self.calls.append((name, args))
            return attribute(*args, **kwargs)

        return record

    @property
    def commands(self) -> list[str]:
        return [name for name, _ in self.calls]

    @property
    def sent(self) -> list[str]:
        """Every command's name, those sent in a pipeline included (lower case)."""
        return [name.lower() for call, args in self.calls for name in (args if call == "pipeline.execute" else [call])]


class _RecordingPipeline:
    def __init__(self, real, calls):
        self._real, self._calls, self._queued = real, calls, []

    def execute_command(self, *args, **kwargs):
        self._queued.append(args[0])
        return self._real.execute_command(*args, **kwargs)

    def execute(self, *args, **kwargs):
        self._calls.append(("pipeline.execute", tuple(self._queued)))
        self._queued = []
        return self._real.execute(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


class BeforeStore:
    """The cache's client, running `hook()` before each entry is stored (the one SET without NX:
    a miss's compute is done, its write not sent yet), to widen the windows races look for."""

    def __init__(self, real, hook):
        self._real, self._hook, self.calls = real, hook, 0

    def set(self, *args, **kwargs):
        if not kwargs.get("nx"):
            self.calls += 1
            self._hook()
        return self._real.set(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._real, name)


def before_store(swap_redis, hook) -> BeforeStore:
    """The cache's client swapped for one that runs `hook` before each store."""
    client = BeforeStore(redis_layer.connect(redis_layer.CACHE), hook)
    swap_redis(cache=client)
    return client


def record_client(swap_redis) -> RecordingClient:
    """The cache's client swapped for a recorder of the real one (`swap_redis`: the fixture)."""
    recorder = RecordingClient(redis_layer.connect(redis_layer.CACHE))
    swap_redis(cache=recorder)
    return recorder


# --- Accounts: tokens and clocks --------------------------------------------------------------------


PROTECTED_URL = "/api/review/today/"


def status_with(client, access: str) -> int:
    """The status a protected endpoint answers for this access token."""
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get(PROTECTED_URL).status_code


def refresh(client, raw_refresh: str):
    return client.post("/api/auth/token/refresh/", {"refresh": raw_refresh})


def assert_json_401(response) -> None:
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def from_epoch(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


@contextlib.contextmanager
def revocation_clock(moment: datetime):
    """Pin utils.clock.now (the clock deactivation cut-offs are taken from)."""
    with mock.patch("utils.clock.now", return_value=moment):
        yield


@contextlib.contextmanager
def token_clock(moment: datetime):
    """Pin the clock simplejwt stamps `iat`/`exp` with and checks expiry against."""
    with mock.patch("rest_framework_simplejwt.tokens.aware_utcnow", return_value=moment):
        yield


def seconds_ago(seconds: float) -> datetime:
    return datetime.now(tz=UTC) - timedelta(seconds=seconds)


def redis_down():
    """`with redis_down(): ...` makes only the revocation store unreachable."""
    return redis_layer.use(redis_layer.RedisLayer(stand_ins={redis_layer.REVOCATION: DownRedis()}))


def set_active(user, active: bool, capture) -> None:
    """Save the user's new is_active and run the on-commit hooks, as a committed admin edit would."""
    with capture(execute=True):
        user.is_active = active
        user.save()


# --- Threads ----------------------------------------------------------------------------------------


DEFAULT_TIMEOUT = 10  # seconds: the bound on any wait in the threaded tests


def run_in_threads(count: int, target) -> list[BaseException]:
    """Start `count` threads on `target` at once; each closes its own DB connection. Returns the
    errors they raised; fails if any thread is still running after the timeout."""
    barrier = threading.Barrier(count, timeout=DEFAULT_TIMEOUT)
    errors: list[BaseException] = []

    def worker():
        try:
            barrier.wait()
            target()
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=DEFAULT_TIMEOUT)
    assert not [thread for thread in threads if thread.is_alive()], "threads still running: deadlock?"
    return errors


@dataclass(frozen=True)
class Read:
    started: float  # time.monotonic()
    ended: float
    status: int
    cache: str
    content_ids: tuple[int, ...]


class TodayReaders:
    """`with TodayReaders(token) as readers:` threads reading one learner's today list over and
    over, each with a client of its own, while a fault comes and goes; every read is recorded
    (`readers.reads`: when it started and ended, status, X-Cache, the cards it listed)."""

    def __init__(self, token: str, *, count: int = 3, pause: float = 0.01):
        self.token, self.count, self.pause = token, count, pause
        self.reads: list[Read] = []
        self.errors: list[BaseException] = []
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._read, daemon=True) for _ in range(count)]

    def __enter__(self) -> "TodayReaders":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(timeout=DEFAULT_TIMEOUT)
        assert not [thread for thread in self._threads if thread.is_alive()], "readers still running"

    def _read(self) -> None:
        client = APIClient(HTTP_AUTHORIZATION=f"Bearer {self.token}")
        try:
            while not self._done.is_set():
                started = time.monotonic()
                response = client.get(URLS["today"])
                ids = (
                    tuple(item["content_id"] for item in response.json()["results"])
                    if response.status_code == 200
                    else ()
                )
                self.reads.append(Read(started, time.monotonic(), response.status_code, response["X-Cache"], ids))
                time.sleep(self.pause)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            self.errors.append(exc)
        finally:
            connection.close()

    def first_hit(self, *, started_after: float) -> Read | None:
        return min(
            (read for read in self.reads if read.cache == HIT and read.started > started_after),
            default=None,
            key=lambda read: read.ended,
        )

    def listing(self, content_id: int, *, started_after: float) -> list[Read]:
        """The reads begun after `started_after` that still listed the card."""
        return [read for read in self.reads if read.started > started_after and content_id in read.content_ids]


# --- Decks: files to import, and waiting for their jobs ---------------------------------------------

IMPORTS = "/api/imports/"


# Note: Anki's day starts at 4am; col.crt of the collections built here.
ANKI_CREATED = datetime(2024, 1, 1, 4, 0, tzinfo=UTC)
ANKI_PLACEHOLDER = "Please update to the latest Anki version, then import the .colpkg/.apkg file again."


@dataclass(frozen=True)
class AnkiCard:
    nid: int
    did: int = 1
    ord: int = 0
    type: int = 0
    queue: int = 0
    due: int = 0
    ivl: int = 0
    data: str = ""


@dataclass(frozen=True)
class AnkiReview:
    """A row of Anki's review log: card `cid` (the cards' ids are 1, 2, .. in the order given) answered
    with `ease` at `at`; type 0 learn, 1 review, 2 relearn, 3 filtered, 4 manual, 5 rescheduled."""

    cid: int
    at: datetime
    ease: int
    type: int = 1
    ms: int = 8000

    def row(self, taken: set[int]) -> tuple:
        """The row; its id the moment in ms, made unique (among those `taken`) by adding one, as Anki does."""
        moment = int(self.at.timestamp() * 1000)
        while moment in taken:
            moment += 1
        taken.add(moment)
        return (moment, self.cid, self.ease, self.type, self.ms)


def anki_collection(
    path: Path,
    notes: dict[int, str],
    cards: list[AnkiCard] = (),
    decks: dict[int, str] | None = None,
    *,
    schema: int = 11,
    revlog: list[AnkiReview] = (),
) -> bytes:
    """A minimal SQLite collection with the tables and columns the reader uses. Schema 11 (anki2, anki21)
    keeps deck names in col.decks as JSON, schema 18 (anki21b) in a decks table, levels separated by \\x1f.
    A review log only when `revlog` is given."""
    decks = {1: "Default"} if decks is None else decks
    path.unlink(missing_ok=True)
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE col (id integer PRIMARY KEY, crt integer NOT NULL, decks text NOT NULL)")
        db.execute("CREATE TABLE notes (id integer PRIMARY KEY, flds text NOT NULL)")
        db.execute("CREATE TABLE cards (id integer PRIMARY KEY, nid, did, ord, type, queue, due, ivl, data)")
        db.execute("INSERT INTO col VALUES (1, ?, ?)", (int(ANKI_CREATED.timestamp()), _legacy_decks(decks, schema)))
        if schema == 18:
            db.execute("CREATE TABLE decks (id integer PRIMARY KEY, name text NOT NULL)")
            db.executemany("INSERT INTO decks VALUES (?, ?)", [(i, n.replace("::", "\x1f")) for i, n in decks.items()])
        db.executemany("INSERT INTO notes VALUES (?, ?)", notes.items())
        db.executemany(
            "INSERT INTO cards (nid, did, ord, type, queue, due, ivl, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [astuple(card) for card in cards],
        )
        if revlog:
            db.execute("CREATE TABLE revlog (id integer PRIMARY KEY, cid, usn, ease, ivl, lastIvl, factor, time, type)")
            taken = set()
            rows = [review.row(taken) for review in revlog]
            db.executemany("INSERT INTO revlog (id, cid, ease, type, time) VALUES (?, ?, ?, ?, ?)", rows)
        db.commit()
    return path.read_bytes()


def _legacy_decks(decks: dict[int, str], schema: int) -> str:
    return json.dumps({str(i): {"id": i, "name": name} for i, name in decks.items()}) if schema == 11 else ""


def zipped(members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def anki2_package(
    tmp_path: Path,
    notes: dict[int, str],
    cards: list[AnkiCard] = (),
    decks: dict[int, str] | None = None,
    *,
    revlog: list[AnkiReview] = (),
) -> bytes:
    return zipped({"collection.anki2": anki_collection(tmp_path / "anki2.db", notes, cards, decks, revlog=revlog)})


def anki21b_package(
    tmp_path: Path, notes: dict[int, str], cards: list[AnkiCard] = (), decks: dict[int, str] | None = None
) -> bytes:
    """A modern export: the real collection zstd-compressed, and a placeholder for older Ankis."""
    modern = anki_collection(tmp_path / "anki21b.db", notes, cards, decks, schema=18)
    placeholder = anki_collection(tmp_path / "placeholder.db", {1: f"{ANKI_PLACEHOLDER}\x1f"}, [AnkiCard(nid=1)])
    return zipped({"collection.anki2": placeholder, "collection.anki21b": zstandard.ZstdCompressor().compress(modern)})


def _genanki_model(fields: int) -> genanki.Model:
    names = [f"F{i}" for i in range(fields)]
    return genanki.Model(
        model_id=1_000_000 + fields,
        name=f"{fields} fields",
        fields=[{"name": name} for name in names],
        templates=[{"name": "Card 1", "qfmt": "{{F0}}", "afmt": "{{F1}}"}],
    )


def anki_package(directory: Path, decks: dict[str | None, list[tuple[str, ...]]], *, media: int = 0) -> bytes:
    """A package genanki writes: one deck per name (None: Default), a note per tuple of fields."""
    built = []
    for number, (name, notes) in enumerate(decks.items()):
        deck = genanki.Deck(deck_id=1 if name is None else 2000 + number, name=name or "Default")
        for fields in notes:
            deck.add_note(genanki.Note(model=_genanki_model(len(fields)), fields=list(fields)))
        built.append(deck)
    media_files = [directory / f"picture{i}.png" for i in range(media)]
    for file in media_files:
        file.write_bytes(b"\x89PNG not really")
    path = directory / "genanki.apkg"
    with mock.patch.object(tempfile, "tempdir", str(directory)):  # genanki leaves its temporary SQLite file behind
        genanki.Package(built, media_files=[str(file) for file in media_files]).write_to_file(str(path))
    return path.read_bytes()


def upload(content: bytes | str, name: str = "deck.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, content.encode() if isinstance(content, str) else content)


def start_import(client, content: bytes | str, name: str = "deck.csv", *, status: int = 202) -> dict:
    response = client.post(IMPORTS, {"file": upload(content, name)}, format="multipart")
    assert response.status_code == status, response.content
    return response.json()


def wait_for_job(client, job_id: str, *, timeout: float = 60, states: list | None = None) -> dict:
    """Poll the job's status until it is finished; every answer seen goes into `states` as
    (state, processed, total)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        progress = client.get(f"{IMPORTS}{job_id}/").json()
        if states is not None:
            states.append((progress["state"], progress["processed"], progress["total"]))
        if progress["state"] in ("succeeded", "failed"):
            return progress
        time.sleep(0.01)
    raise AssertionError(f"job {job_id} not finished after {timeout} s: {progress}")


def wait_for_recount(client, *, timeout: float = 30) -> dict:
    """The account (GET /api/auth/me/), once no job recounts its days."""
    return _wait_for_account(client, "days_recount_job", timeout=timeout)


def wait_for_replay(client, *, timeout: float = 30) -> dict:
    """The account (GET /api/auth/me/), once no job replays its history into FSRS."""
    return _wait_for_account(client, "reschedule_job", timeout=timeout)


def _wait_for_account(client, job_field: str, *, timeout: float) -> dict:
    # Note: ten polls a second stay well under the user throttle (THROTTLE_USER_RATE) all along.
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/api/auth/me/")
        assert response.status_code == 200, (response.status_code, response.content)
        if (account := response.json())[job_field] is None:
            return account
        assert time.monotonic() < deadline, f"{job_field} {account[job_field]} not done after {timeout} s"
        time.sleep(0.1)


# --- Deployment files: what the app reads from the environment ----------------------------------

SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|(^|_)KEY$")


def variables_the_app_reads() -> set[str]:
    """The environment variables resee/settings.py and resee/serve.py (the server: HOST, PORT,
    WEB_*) read, and PROMETHEUS_MULTIPROC_DIR (prometheus-client)."""
    read = set()
    for module in ("settings.py", "serve.py"):
        source = (Path(settings.BASE_DIR) / "resee" / module).read_text()
        read |= set(re.findall(r'env_(?:str|bool|int|float|list)\(\s*"([A-Z_]+)"', source))
        read |= set(re.findall(r'os\.environ\.get\(\s*"([A-Z_]+)"', source))
    return read | {"PROMETHEUS_MULTIPROC_DIR"}


# --- The documentation site's tools -------------------------------------------------------------


def docs_tool(module: str):
    """A module of requirements-docs.txt, imported; without it the test skips saying so, except
    with CI=true, where that is a failure (CI installs them: `make docs-build`)."""
    import importlib
    import os

    import pytest

    try:
        return importlib.import_module(module)
    except ImportError:
        reason = f"{module} not installed (pip install -r requirements-docs.txt, or make docs-build)"
        if os.environ.get("CI"):
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)
