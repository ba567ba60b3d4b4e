"""The chaos run's checker: the recorded history, per learner in real-time order, against a model
of what a correct system may answer.

Each learner is driven by one client, one operation at a time, so every operation began after the
previous one's answer: the model, replayed from the acknowledged writes before an operation, is
what that operation must see. A write whose outcome is unknown (a timeout, a dropped connection, a
5xx) may or may not have happened, now or a little later: the model allows both values until a
write acknowledged `UNKNOWN_HORIZON` seconds after it settles the fact. The model checks the facts
each write sets (a completed card not due today, a title, a card gone, counts that moved) and does
not re-derive schedules."""

import copy
import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from chaos.learners import CACHED_READS, READS

# Note: longer than any request can live in the app (the client gives up at 10 s, the database
# connect timeout is 3 s): a write still unanswered this long after it began has happened or never will.
UNKNOWN_HORIZON = 30.0
DB_FAULTS = ("pg_stop", "pg_terminate")
GRACE = 2.0  # after a database fault, a 503 is still the honest answer for a moment
ANOMALIES = ("stale_read", "lost_write", "read_5xx", "write_5xx", "revoked_accepted")


class Fact:
    """One value the learner set, and the values unknown-outcome writes may have set since."""

    def __init__(self, value, cause: int):
        self.value, self.cause, self.maybe = value, cause, []

    def settle(self, value, at: float, cause: int) -> None:
        self.value, self.cause = value, cause
        self.maybe = [(v, t) for v, t in self.maybe if at - t < UNKNOWN_HORIZON]

    def perhaps(self, value, at: float) -> None:
        self.maybe.append((value, at))

    def allowed(self) -> set:
        return {self.value, *(v for v, _ in self.maybe)}


@dataclass
class Card:
    created_tag: str
    category: int | None
    title: Fact
    exists: Fact  # True / False
    completed: Fact  # reviewed today at least once: True / False
    acked_reviews: int = 0
    unknown_reviews: int = 0


@dataclass
class Model:
    cards: dict[int, Card] = field(default_factory=dict)
    categories: dict[int, Fact] = field(default_factory=dict)
    settings: dict[str, Fact] = field(default_factory=dict)
    unknown_creates: int = 0
    undos: int = 0

    def shown(self, card_id: int) -> Card | None:
        return self.cards.get(card_id)

    def due_bounds(self) -> tuple[int, int]:
        low = sum(1 for c in self.cards.values() if c.exists.allowed() == {True} and c.completed.allowed() == {False})
        high = sum(1 for c in self.cards.values() if True in c.exists.allowed() and False in c.completed.allowed())
        return low, high + self.unknown_creates

    def review_bounds(self) -> tuple[int, int]:
        low = sum(c.acked_reviews for c in self.cards.values() if c.exists.allowed() == {True})
        high = sum(c.acked_reviews + c.unknown_reviews for c in self.cards.values())
        return max(0, low - self.undos), high


def acked(op) -> bool:
    return op["s"] is not None and 200 <= op["s"] < 300


def unknown(op) -> bool:
    return op["s"] is None or op["s"] >= 500


def load_history(out: Path) -> list[dict]:
    ops = []
    for path in sorted(out.glob("history-*.jsonl")):
        ops += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    ops.sort(key=lambda op: op["t0"])
    for index, op in enumerate(ops):
        op["i"] = index
    return ops


class Checker:
    def __init__(self, faults: list[dict], day_ends: float = float("inf")):
        self.faults = faults
        self.day_ends = day_ends  # the monotonic moment the learners' day (UTC, from midnight) ends
        self.found: dict[str, list[dict]] = {name: [] for name in ANOMALIES}

    def flag(self, name: str, op: dict, why: str, cause: int | None = None) -> None:
        self.found[name].append({"op": op["i"], "user": op["u"], "kind": op["k"], "why": why, "cause": cause})

    # --- writes: the model moves ---

    def apply(self, model: Model, op: dict) -> None:
        kind, args, at, i = op["k"], op["a"], op["t0"], op["i"]
        ok, maybe = acked(op), unknown(op)
        if not (ok or maybe):
            return
        if kind == "create":
            if ok and op["r"] and op["r"].get("id"):
                tag = args["title"].split()[0]
                model.cards[op["r"]["id"]] = Card(
                    tag, args.get("category"), Fact(args["title"], i), Fact(True, i), Fact(False, i)
                )
            else:
                model.unknown_creates += 1
        elif kind == "create_category" and ok:
            model.categories[op["r"]["id"]] = Fact(args["name"], i)
        elif kind in ("edit", "delete", "complete") and args["card"] in model.cards:
            card = model.cards[args["card"]]
            fact, value = {"edit": (card.title, args.get("title")), "delete": (card.exists, False),
                           "complete": (card.completed, True)}[kind]  # fmt: skip
            fact.settle(value, at, i) if ok else fact.perhaps(value, at)
            if kind == "complete":
                card.acked_reviews += ok
                card.unknown_reviews += maybe
        elif kind == "undo":
            # Note: which review an undo took back is the server's to say: any completed card may
            # be due again, and the count of reviews may be one lower.
            model.undos += 1
            for card in model.cards.values():
                if True in card.completed.allowed():
                    card.completed.perhaps(False, at)
        elif kind == "rename" and args["category"] in model.categories:
            fact = model.categories[args["category"]]
            fact.settle(args["name"], at, i) if ok else fact.perhaps(args["name"], at)
        elif kind == "settings":
            for name, value in args.items():
                fact = model.settings.setdefault(name, Fact(value, i))
                fact.settle(value, at, i) if ok else fact.perhaps(value, at)

    # --- reads: what they may show ---

    def read(self, model: Model, op: dict) -> None:
        if op["k"] == "revoked_probe":
            return  # its token's revocation is checked as every operation's is
        if not acked(op) or op["r"] is None:
            return
        getattr(self, f"read_{op['k']}", lambda *_: None)(model, op)

    def stale(self, op, why: str, cause: int | None = None) -> None:
        self.flag("stale_read", op, why, cause)

    def check_row(self, model: Model, op, card_id: int, title: str) -> Card | None:
        card = model.shown(card_id)
        if card is None:
            if not model.unknown_creates:
                self.stale(op, f"card {card_id} shown, never created")
            return None
        if card.exists.allowed() == {False}:
            self.stale(op, f"card {card_id} shown after its delete", card.exists.cause)
        elif title not in card.title.allowed():
            self.stale(
                op, f"card {card_id} titled {title!r}, expected one of {sorted(card.title.allowed())}", card.title.cause
            )
        return card

    def read_today(self, model, op) -> None:
        for card_id, title, _due in op["r"]:
            card = self.check_row(model, op, card_id, title)
            if card is not None and card.completed.allowed() == {True} and op["t1"] < self.day_ends:
                self.stale(op, f"card {card_id} still due today after its completion", card.completed.cause)

    def read_content(self, model, op, *, complete: bool = True, query: str | None = None) -> None:
        seen = set()
        for card_id, title, category_id, category_name in op["r"]:
            seen.add(card_id)
            card = self.check_row(model, op, card_id, title)
            if category_id in model.categories and category_name not in model.categories[category_id].allowed():
                fact = model.categories[category_id]
                self.stale(
                    op, f"category {category_id} named {category_name!r}, expected {sorted(fact.allowed())}", fact.cause
                )
            if card is not None and query and not self.may_match(card, query):
                self.stale(op, f"card {card_id} found by {query!r}, which it no longer holds", card.title.cause)
        if not complete:
            return
        for card_id, card in model.cards.items():
            must = card.exists.allowed() == {True} and (query is None or self.must_match(card, query))
            if must and card_id not in seen:
                self.stale(op, f"card {card_id} missing", card.exists.cause if query is None else card.title.cause)

    @staticmethod
    def may_match(card: Card, query: str) -> bool:
        return card.created_tag == query or any(query in title for title in card.title.allowed())

    @staticmethod
    def must_match(card: Card, query: str) -> bool:
        return card.created_tag == query or all(query in title for title in card.title.allowed())

    def read_content_page2(self, model, op) -> None:
        self.read_content(model, op, complete=False)

    def read_search(self, model, op) -> None:
        self.read_content(model, op, query=op["a"]["q"])

    def read_stats(self, model, op) -> None:
        if op["t1"] >= self.day_ends:
            return  # Note: a new day: cards completed yesterday are due again, today's tally is 0
        for name, (low, high) in (("reviews_today", model.review_bounds()), ("due", model.due_bounds())):
            value = op["r"].get(name)
            if value is None or not low <= value <= high:
                self.stale(op, f"stats {name} = {value}, expected {low}..{high}")

    def read_categories(self, model, op) -> None:
        for category_id, name in op["r"]:
            fact = model.categories.get(category_id)
            if fact is not None and name not in fact.allowed():
                self.stale(op, f"category {category_id} named {name!r}, expected {sorted(fact.allowed())}", fact.cause)

    def read_me(self, model, op) -> None:
        for name, fact in model.settings.items():
            if op["r"].get(name) not in fact.allowed():
                self.stale(op, f"{name} = {op['r'].get(name)!r}, expected {sorted(fact.allowed())}", fact.cause)

    # --- 5xx ---

    def database_down(self, op) -> bool:
        return any(
            f["kind"] in DB_FAULTS and op["t0"] <= f["end"] + GRACE and op["t1"] >= f["start"] for f in self.faults
        )

    def server_errors(self, op) -> None:
        if op["s"] is None or op["s"] < 500:
            return
        if op["k"] in CACHED_READS:
            if not (op["s"] == 503 and op["json"] and self.database_down(op)):
                self.flag("read_5xx", op, f"{op['s']} on a read the cache answers")
        elif op["k"] not in READS:
            if not (op["s"] == 503 and op["json"] and self.database_down(op)):
                self.flag("write_5xx", op, f"{op['s']}{' JSON' if op['json'] else ''} on a write")

    # --- the end: the database against the model ---

    def end_state(self, models: dict[str, Model], state: dict) -> None:
        for user, model in models.items():
            rows = state.get(user, {"cards": {}, "categories": {}, "settings": {}, "reviews": 0})
            end = {"i": -1, "u": user, "k": "end_state"}
            for card_id, card in model.cards.items():
                row = rows["cards"].get(str(card_id))
                if (row is not None) not in card.exists.allowed():
                    self.flag(
                        "lost_write",
                        end,
                        f"card {card_id} {'present' if row else 'absent'} in the database",
                        card.exists.cause,
                    )
                elif row is not None and row not in card.title.allowed():
                    self.flag("lost_write", end, f"card {card_id} titled {row!r} in the database", card.title.cause)
            extra = [c for c in rows["cards"] if int(c) not in model.cards]
            if len(extra) > model.unknown_creates:
                self.flag("lost_write", end, f"cards {extra} in the database that no acknowledged create made")
            for category_id, fact in model.categories.items():
                name = rows["categories"].get(str(category_id))
                if name not in fact.allowed():
                    self.flag("lost_write", end, f"category {category_id} named {name!r} in the database", fact.cause)
            for name, fact in model.settings.items():
                if rows["settings"].get(name) not in fact.allowed():
                    self.flag("lost_write", end, f"{name} = {rows['settings'].get(name)!r} in the database", fact.cause)
            low, high = model.review_bounds()
            if not low <= rows["reviews"] <= high:
                self.flag("lost_write", end, f"{rows['reviews']} reviews in the database, expected {low}..{high}")


def recovery(history: list[dict], faults: list[dict]) -> dict:
    """Per fault kind, seconds from each fault's end to the first HIT answered and to the first
    write acknowledged that began after it."""
    hits = [op for op in history if op["x"] == "HIT"]
    writes = [op for op in history if op["k"] not in READS and op["k"] != "login" and acked(op)]
    out = {"hit": defaultdict(list), "write": defaultdict(list)}
    for fault in faults:
        for name, ops in (("hit", hits), ("write", writes)):
            first = next((op["t1"] for op in ops if op["t0"] >= fault["end"]), None)
            if first is not None:
                out[name][fault["kind"]].append(round(first - fault["end"], 3))
    return {name: dict(values) for name, values in out.items()}


def check(history: list[dict], faults: list[dict], state: dict, day_ends: float = float("inf")) -> dict:
    """Per learner: each read against the model of the writes acknowledged before it began, the
    writes it overlapped counted as maybe-happened; then the end state; then the 5xx."""
    checker = Checker(faults, day_ends)
    models: dict[str, Model] = {}
    for user, ops in _by_user(history).items():
        model = models[user] = Model()
        writes = [op for op in ops if op["k"] not in READS]
        applied, revoked = 0, {}
        for op in ops:
            if op["k"] in READS:
                while applied < len(writes) and writes[applied]["t1"] < op["t0"]:
                    revoked.update(_revocations(writes[applied]))
                    checker.apply(model, writes[applied])
                    applied += 1
                overlapping = [w for w in writes[applied:] if w["t0"] < op["t1"]]
                checker.read(_with_maybe(model, overlapping) if overlapping else model, op)
            if acked(op) and revoked.get(op.get("tk"), float("inf")) < op["t0"]:
                checker.flag("revoked_accepted", op, f"token …{op['tk']} accepted after its revocation")
            checker.server_errors(op)
        for write in writes[applied:]:
            checker.apply(model, write)
    checker.end_state(models, state)
    return {"anomalies": checker.found, "recovery": recovery(history, faults)}


def _by_user(history: list[dict]) -> dict[str, list[dict]]:
    users: dict[str, list[dict]] = defaultdict(list)
    for op in history:
        users[op["u"]].append(op)
    return users


def _revocations(op: dict) -> dict:
    """The token an acknowledged logout or password change revoked, and when its answer came."""
    return {op["a"]["token"]: op["t1"]} if op["k"] in ("logout", "password") and acked(op) else {}


def _with_maybe(model: Model, writes: list[dict]) -> Model:
    """The model with `writes`, which a read overlapped, as writes of unknown outcome."""
    maybe = copy.deepcopy(model)
    checker = Checker([])
    for write in writes:
        checker.apply(maybe, {**write, "s": None, "r": None})
    return maybe


def database_state(url: str) -> dict:
    """Per username: cards (id -> title), categories (id -> name), settings and the count of
    reviews, as the database holds them at the end."""
    import psycopg

    state: dict = defaultdict(lambda: {"cards": {}, "categories": {}, "settings": {}, "reviews": 0})
    with psycopg.connect(url, connect_timeout=10) as conn:
        users = dict(conn.execute("SELECT id, username FROM auth_user").fetchall())
        for owner, card_id, title in conn.execute("SELECT owner_id, id, title FROM content_content"):
            state[users[owner]]["cards"][str(card_id)] = title
        for owner, category_id, name in conn.execute("SELECT owner_id, id, name FROM content_category"):
            state[users[owner]]["categories"][str(category_id)] = name
        for user, zone, hour in conn.execute("SELECT user_id, time_zone, day_starts_at_hour FROM accounts_learner"):
            state[users[user]]["settings"] = {"time_zone": zone, "day_starts_at_hour": hour}
        for user, count in conn.execute("SELECT user_id, count(*) FROM review_reviewhistory GROUP BY user_id"):
            state[users[user]]["reviews"] = count
    return dict(state)
