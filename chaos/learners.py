"""The chaos run's clients: each a process acting as a few learners over HTTP, one operation at a
time per learner, every operation recorded as one JSON line of its history file.

An operation kind is one entry of OPERATIONS: its weight and the function that sends it. A
function returns (method, path, body, args, token) or None when the learner has nothing to do it
on; what the answer means for the learner's own bookkeeping is `learn_<kind>`, if defined."""

import http.client
import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PASSWORD = "chaos-pass-0"
ZONES = ("UTC", "Etc/UTC", "Etc/GMT", "Etc/Zulu", "Etc/Universal", "GMT")
GRADES = ("again", "hard", "good", "easy")
CARDS_MIN, CARDS_MAX = 4, 40
TIMEOUT = 20.0


def day_hours(now_hour: int) -> tuple[int, ...]:
    """The `day_starts_at_hour` values that keep the learner's day what it is now (zones are all
    UTC's): hours already past, so a settings change never moves a card's due day."""
    return tuple(range(0, min(now_hour, 4) + 1))


@dataclass
class Learner:
    username: str
    password: str = PASSWORD
    access: str | None = None
    refresh: str | None = None
    cards: dict[int, str] = field(default_factory=dict)  # id -> title, as last acknowledged
    categories: dict[int, str] = field(default_factory=dict)
    revoked: list[str] = field(default_factory=list)  # access tokens whose revocation was acknowledged
    unsure_password: str | None = None  # set by a password change of unknown outcome
    serial: int = 0

    def tag(self) -> str:
        self.serial += 1
        return f"{self.username}w{self.serial:06d}"


class Http:
    """One keep-alive connection to the app, reopened after any failure."""

    def __init__(self, port: int):
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, body: dict | None, token: str | None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        try:
            self.conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            answer = self.conn.getresponse()
            raw = answer.read()
            if answer.getheader("Connection", "").lower() == "close":
                self.close()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            return None, {}, None, f"{type(error).__name__}: {error}"
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = None
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, data, None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- what each operation sends -------------------------------------------------------------


def op_today(me: Learner, rng: random.Random):
    return "GET", "/api/review/today/?page_size=100", None, {}, me.access


def op_stats(me, rng):
    return "GET", "/api/analytics/stats/", None, {}, me.access


def op_content(me, rng):
    return "GET", "/api/content/?page_size=100", None, {}, me.access


def op_content_page2(me, rng):
    return "GET", "/api/content/?page=2&page_size=5", None, {}, me.access


def op_search(me, rng):
    if not me.cards:
        return None
    # Note: the unique tag of a title; a title edited away from it must stop matching.
    words = [title.split()[0] for title in me.cards.values()]
    word = rng.choice(words)
    return "GET", f"/api/content/?page_size=100&search={word}", None, {"q": word}, me.access


def op_categories(me, rng):
    return "GET", "/api/content/categories/", None, {}, me.access


def op_me(me, rng):
    return "GET", "/api/auth/me/", None, {}, me.access


def op_complete(me, rng):
    if not me.cards:
        return None
    card = rng.choice(sorted(me.cards))
    body = {"content_id": card, "result": rng.choice(GRADES)}
    return "POST", "/api/review/complete/", body, {"card": card}, me.access


def op_undo(me, rng):
    return "POST", "/api/review/undo/", {}, {}, me.access


def op_edit(me, rng):
    if not me.cards:
        return None
    card = rng.choice(sorted(me.cards))
    title = f"{me.tag()} edited"
    return "PATCH", f"/api/content/{card}/", {"title": title}, {"card": card, "title": title}, me.access


def op_create(me, rng):
    if len(me.cards) >= CARDS_MAX:
        return None
    tag = me.tag()
    category = rng.choice([None, *sorted(me.categories)])
    body = {"title": f"{tag} card", "body": f"body of {tag}", "category_id": category}
    return "POST", "/api/content/", body, {"title": body["title"], "category": category}, me.access


def op_delete(me, rng):
    if len(me.cards) <= CARDS_MIN:
        return None
    card = rng.choice(sorted(me.cards))
    return "DELETE", f"/api/content/{card}/", None, {"card": card}, me.access


def op_rename(me, rng):
    if not me.categories:
        return None
    category = rng.choice(sorted(me.categories))
    name = f"{me.tag()} category"
    return (
        "PATCH",
        f"/api/content/categories/{category}/",
        {"name": name},
        {"category": category, "name": name},
        me.access,
    )


def op_settings(me, rng):
    body = {"time_zone": rng.choice(ZONES), "day_starts_at_hour": rng.choice(day_hours(time.gmtime().tm_hour))}
    return "PATCH", "/api/auth/me/", body, body, me.access


def op_password(me, rng):
    new = f"chaos-pass-{me.serial + 1}"
    me.serial += 1
    body = {"current_password": me.password, "new_password": new}
    return "POST", "/api/auth/password/change/", body, {"token": me.access[-16:]}, me.access


def op_logout(me, rng):
    return "POST", "/api/auth/logout/", {"refresh": me.refresh}, {"token": me.access[-16:]}, me.access


def op_revoked_probe(me, rng):
    if not me.revoked:
        return None
    token = rng.choice(me.revoked[-3:])
    return "GET", "/api/review/today/?page_size=100", None, {"token": token[-16:]}, token


# weight, sender; a kind whose endpoint answers 404 at start-up is left out (e.g. undo before it exists)
OPERATIONS = {
    "today": (20, op_today),
    "stats": (10, op_stats),
    "content": (12, op_content),
    "content_page2": (4, op_content_page2),
    "search": (8, op_search),
    "categories": (4, op_categories),
    "me": (3, op_me),
    "complete": (18, op_complete),
    "undo": (2, op_undo),
    "edit": (6, op_edit),
    "create": (4, op_create),
    "delete": (3, op_delete),
    "rename": (2, op_rename),
    "settings": (2, op_settings),
    "password": (0.3, op_password),
    "logout": (0.6, op_logout),
    "revoked_probe": (3, op_revoked_probe),
}
READS = {"today", "stats", "content", "content_page2", "search", "categories", "me", "revoked_probe"}
CACHED_READS = {"today", "stats", "content", "content_page2", "search"}


# --- what the answers mean for the learner's bookkeeping -----------------------------------


def relevant(kind: str, data) -> object:
    """The part of an answer the checker needs."""
    if not isinstance(data, dict | list):
        return None
    if kind in ("today", "revoked_probe") and isinstance(data, dict):
        return [[row["content_id"], row["title"], row["next_review_date"]] for row in data.get("results", [])]
    if kind in ("content", "content_page2", "search") and isinstance(data, dict):
        rows = data.get("results", [])
        return [[r["id"], r["title"], (r["category"] or {}).get("id"), (r["category"] or {}).get("name")] for r in rows]
    if kind == "stats" and isinstance(data, dict):
        summary = data.get("summary", {})
        return {"reviews_today": summary.get("reviews_today"), "due": summary.get("due")}
    if kind == "categories" and isinstance(data, list):
        return [[row["id"], row["name"]] for row in data]
    if kind in ("me", "settings") and isinstance(data, dict):
        return {"time_zone": data.get("time_zone"), "day_starts_at_hour": data.get("day_starts_at_hour")}
    if kind in ("create", "complete", "create_category") and isinstance(data, dict):
        return {"id": data.get("id"), "next_review_date": data.get("next_review_date")}
    return None


def learn(me: Learner, kind: str, request: tuple, status: int | None, data) -> None:
    args, token = request[3], request[4]
    new_password = (request[2] or {}).get("new_password") if kind == "password" else None
    acked = status is not None and 200 <= status < 300
    unknown = status is None or status >= 500
    if kind == "create" and acked:
        me.cards[data["id"]] = args["title"]
    elif kind == "edit" and acked:
        me.cards[args["card"]] = args["title"]
    elif kind == "edit" and unknown:
        me.cards.pop(args["card"], None)  # its title is uncertain: leave the card alone from now on
    elif kind == "delete" and (acked or unknown or status == 404):
        me.cards.pop(args["card"], None)
    elif kind == "rename" and acked:
        me.categories[args["category"]] = args["name"]
    elif kind in ("password", "logout"):
        if acked:
            me.revoked.append(token)
        if kind == "password" and acked:
            me.password, me.unsure_password = new_password, None
            me.access, me.refresh = data["access"], data["refresh"]
            return
        if kind == "password" and unknown:
            me.unsure_password = new_password
        me.access = None  # sign in again
    elif status == 401 and kind != "revoked_probe":
        me.access = None


# --- the process ---------------------------------------------------------------------------


class Recorder:
    def __init__(self, path: Path, client: int):
        self.file = open(path, "w")  # noqa: SIM115 - closed by close()
        self.client = client
        self.count = 0
        self.lock = threading.Lock()

    def send(self, http: Http, me: Learner, kind: str, request) -> tuple[int | None, object]:
        method, path, body, args, token = request
        started = time.monotonic()
        status, headers, data, error = http.send(method, path, body, token)
        ended = time.monotonic()
        record = {"c": self.client, "u": me.username, "k": kind, "a": args, "t0": started, "t1": ended,
                  "tk": token[-16:] if token else None, "s": status, "x": headers.get("x-cache"),
                  "json": headers.get("content-type", "").startswith("application/json"),
                  "r": relevant(kind, data), "e": error}  # fmt: skip
        with self.lock:
            self.file.write(json.dumps(record) + "\n")
            self.count += 1
        return status, data

    def close(self) -> None:
        self.file.close()


def sign_in(http: Http, rec: Recorder, me: Learner) -> bool:
    for password in filter(None, (me.unsure_password, me.password)):
        body = {"username": me.username, "password": password}
        status, data = rec.send(http, me, "login", ("POST", "/api/auth/token/", body, {}, None))
        if status == 200:
            me.access, me.refresh, me.password, me.unsure_password = data["access"], data["refresh"], password, None
            return True
        if status != 401:
            return False
    return False


def set_up(http: Http, rec: Recorder, me: Learner, rng: random.Random) -> None:
    """Register, sign in, settle the day (UTC, from midnight), two categories, a few cards;
    retried until each step is acknowledged (faults have not started yet)."""

    def until_acked(kind: str, request_of):
        for _ in range(50):
            request = request_of()
            status, data = rec.send(http, me, kind, request)
            if status is not None and 200 <= status < 300:
                learn(me, kind, request, status, data)
                return data
            time.sleep(0.2)
        raise RuntimeError(f"{me.username}: {kind} failed at set-up")

    body = {"username": me.username, "password": me.password}
    until_acked("register", lambda: ("POST", "/api/auth/register/", body, {}, None))
    assert sign_in(http, rec, me), f"{me.username} cannot sign in"
    day = {"time_zone": "UTC", "day_starts_at_hour": 0}
    until_acked("settings", lambda: ("PATCH", "/api/auth/me/", day, day, me.access))
    for name in (f"{me.tag()} category", f"{me.tag()} category"):
        body = {"name": name}
        category = until_acked("create_category", lambda: ("POST", "/api/content/categories/", body, body, me.access))  # noqa: B023 - called at once
        me.categories[category["id"]] = name
    for _ in range(8):
        until_acked("create", lambda: op_create(me, rng))


def run_client(
    index: int, port: int, seed: int, users: int, budget: int, out: str, kinds: list[str], ready, go, faults_done
) -> None:
    rng = random.Random(f"{seed}-{index}")
    # Note: two connections, used in turn, as a browser's pool would: a write's refresh-on-write
    # holds its connection after the response (uWSGI serves a connection on one thread), and
    # the next operation goes out on the other meanwhile.
    connections = [Http(port), Http(port)]
    http = connections[0]
    rec = Recorder(Path(out) / f"history-{index}.jsonl", index)
    learners = [Learner(username=f"c{index}u{n}") for n in range(users)]
    try:
        for me in learners:
            set_up(http, rec, me, rng)
        ready.release()
        go.wait()
        stop = threading.Event()
        reader = threading.Thread(target=read_along, args=(port, rng.random(), learners, rec, stop), daemon=True)
        reader.start()
        table = [(kind, OPERATIONS[kind]) for kind in kinds if kind not in ALONG]
        weights = [weight for _, (weight, _) in table]
        while rec.count < budget or not faults_done.is_set():
            me = rng.choice(learners)
            if me.access is None:
                if not sign_in(http, rec, me):
                    time.sleep(0.2)
                continue
            kind, (_, sender) = rng.choices(table, weights)[0]
            request = sender(me, rng)
            if request is None:
                continue
            connections.reverse()
            status, data = rec.send(connections[0], me, kind, request)
            learn(me, kind, request, status, data)
            if status is None or status >= 500:
                time.sleep(0.2)  # as a client backs off
            elif rng.random() < 0.5:
                time.sleep(rng.uniform(0, 0.3))  # a learner thinks; a stale entry would live on meanwhile
        stop.set()
        reader.join(timeout=30)
    finally:
        rec.close()
        for http in connections:
            http.close()


ALONG = ("today", "stats", "content", "search")


def read_along(port: int, seed: float, learners: list[Learner], rec: Recorder, stop) -> None:
    """A second thread of the client: cached reads of the same learners while their writes go
    on, so that a read can race a write's commit, its bump and its refresh."""
    rng, http = random.Random(seed), Http(port)
    table = [(kind, OPERATIONS[kind]) for kind in ALONG]
    weights = [weight for _, (weight, _) in table]
    while not stop.is_set():
        me = rng.choice(learners)
        kind, (_, sender) = rng.choices(table, weights)[0]
        request = sender(me, rng) if me.access else None
        if request is None:
            time.sleep(0.01)
            continue
        status, _ = rec.send(http, me, kind, request)
        if status is None or status >= 500:
            time.sleep(0.2)
    http.close()
