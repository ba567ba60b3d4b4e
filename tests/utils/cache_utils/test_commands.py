"""`manage.py cache_warm` and `manage.py cache_stats`, end to end.

A warmed entry is the one the next GET hits, byte for byte; only recently active users are
warmed, at most `--limit`; a write after, or during, the warm is never answered from the warmed
entry; Redis down is a CommandError with a message. cache_stats reports the requests made (as
deltas: the Prometheus registry is process-wide), Redis' own figures, and adds up a gunicorn
server's multiprocess directory.
"""

import json
import os
import socket
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

from review import selectors as review_selectors
from tests.helpers import (  # noqa: F401  (clock: autouse)
    HIT,
    MISS,
    NOW,
    TODAY,
    clock,
    committed,
    days,
    fetch,
    make_card,
    make_history,
    titles,
    uncached,
)
from tests.servers import DownRedis
from utils.cache_utils import store
from utils.cache_utils.conf import STATS

WARMED_ENDPOINTS = ["today", "stats"]
ROOT = Path(__file__).resolve().parents[3]


def run(command: str, *args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command(command, *args, stdout=out, stderr=err)
    assert err.getvalue() == "", err.getvalue()  # no progress bar when stdout is not a TTY
    return out.getvalue()


def stats_json() -> dict:
    return json.loads(run("cache_stats", "--json"))


def active(client, *, reviewed_days_ago: float = 1, title: str = "Card"):
    """Give `client`'s user a due card and a review of it `reviewed_days_ago` before NOW."""
    card = make_card(client, title)
    make_history(client, card, at=NOW - days(1) * reviewed_days_ago)
    return card


def summary_line(output: str, namespace: str) -> str:
    """The summary or table line of `namespace`, its runs of spaces made one."""
    return next(" ".join(line.split()) for line in output.splitlines() if line.strip().startswith(namespace))


def is_cached(user_id: int, namespace: str, params: dict) -> bool:
    try:
        store.lookup(user_id=user_id, namespace=namespace, params=params)
    except store.CacheMiss:
        return False
    return True


# --- cache_warm ----------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", WARMED_ENDPOINTS)
def test_after_warming_the_first_get_is_a_hit_with_the_body_of_an_uncached_answer(alice, endpoint):
    active(alice, title="Reviewed yesterday")
    make_card(alice, "Due later", due=TODAY + days(3))
    truth = uncached(alice, endpoint)

    output = run("cache_warm")

    response = fetch(alice, endpoint, cache=HIT)
    assert response.content == truth.content
    assert "1 active user(s)" in output
    assert summary_line(output, endpoint).startswith(f"{endpoint} 1 warmed, 0 already fresh")


def test_users_without_review_history_in_the_window_are_not_warmed(alice, bob, make_client, django_user_model):
    active(alice, reviewed_days_ago=1)
    active(bob, reviewed_days_ago=8)
    carol = make_client("carol")
    make_card(carol, "Never reviewed")
    gone = make_client("dave")
    active(gone, reviewed_days_ago=1)
    django_user_model.objects.filter(pk=gone.user.id).update(is_active=False)

    output = run("cache_warm", "--days", "7")

    assert "1 active user(s)" in output
    for endpoint in WARMED_ENDPOINTS:
        fetch(alice, endpoint, cache=HIT)
        fetch(bob, endpoint, cache=MISS)
        fetch(carol, endpoint, cache=MISS)
    assert not is_cached(gone.user.id, STATS, {"date": TODAY})


def test_days_widens_the_window(alice):
    active(alice, reviewed_days_ago=8)

    assert "0 active user(s)" in run("cache_warm")
    assert "1 active user(s)" in run("cache_warm", "--days", "9")
    fetch(alice, "today", cache=HIT)


def test_limit_bounds_the_users_warmed_most_recently_active_first(alice, bob, make_client):
    carol = make_client("carol")
    active(alice, reviewed_days_ago=0.1)
    active(bob, reviewed_days_ago=2)
    active(carol, reviewed_days_ago=3)

    output = run("cache_warm", "--limit", "2")

    assert "2 active user(s)" in output
    assert summary_line(output, "today").startswith("today 2 warmed")
    fetch(alice, "today", cache=HIT)
    fetch(bob, "today", cache=HIT)
    fetch(carol, "today", cache=MISS)


@pytest.mark.parametrize("args", [("--limit", "10001"), ("--limit", "0"), ("--days", "0"), ("--days", "366")])
def test_days_and_limit_are_hard_bounded(db, args):
    with pytest.raises(CommandError, match="invalid"):
        call_command("cache_warm", *args, stdout=StringIO())


def test_a_second_warm_finds_the_entries_already_fresh(alice):
    active(alice)
    run("cache_warm")

    output = run("cache_warm")

    assert summary_line(output, "today").startswith("today 0 warmed, 1 already fresh")
    assert summary_line(output, "stats").startswith("stats 0 warmed, 1 already fresh")


def test_a_write_after_warming_makes_the_next_get_a_miss_with_fresh_data(alice):
    card = active(alice)
    run("cache_warm")

    response = alice.post("/api/review/complete/", {"content_id": card.id, "result": "remembered"})
    assert response.status_code == 200, response.content

    for endpoint in WARMED_ENDPOINTS:
        assert fetch(alice, endpoint, cache=MISS).json() == uncached(alice, endpoint).json()
    assert fetch(alice, "stats").json()["total_reviews"] == 2


def test_a_write_committed_while_the_warm_computes_leaves_a_dead_entry(alice, monkeypatch):
    """The warm reads the namespace token before computing: the write's bump replaces it, so the
    entry computed from the rows before the write is never served."""
    active(alice, title="Before")
    real = review_selectors.today_shared_for

    def compute_then_write(**kwargs):
        monkeypatch.setattr(review_selectors, "today_shared_for", real)
        payload = real(**kwargs)
        with committed():
            make_card(alice, "Written during the warm")
        return payload

    monkeypatch.setattr(review_selectors, "today_shared_for", compute_then_write)
    output = run("cache_warm")

    assert summary_line(output, "today").startswith("today 1 warmed")
    response = fetch(alice, "today", cache=MISS)
    assert "Written during the warm" in titles(response)
    assert response.json() == uncached(alice, "today").json()


def test_with_redis_down_cache_warm_fails_with_a_message(alice, swap_redis):
    active(alice)
    swap_redis(cache=DownRedis())

    with pytest.raises(CommandError, match="Redis of the API cache is unreachable"):
        run("cache_warm")


def test_with_the_cache_off_cache_warm_says_there_is_nothing_to_warm(alice):
    with override_settings(RESEE_CACHE={"ENABLED": False}), pytest.raises(CommandError, match="disabled"):
        run("cache_warm")


def test_a_failing_computation_is_counted_and_makes_the_exit_non_zero(alice, bob, monkeypatch):
    active(alice)
    active(bob)

    def broken(**kwargs):
        raise RuntimeError("selector bug (test)")

    monkeypatch.setattr(review_selectors, "today_shared_for", broken)
    out = StringIO()
    with pytest.raises(CommandError, match="2 entries could not be warmed"):
        call_command("cache_warm", stdout=out, stderr=StringIO())

    assert summary_line(out.getvalue(), "today").endswith("2 failed")
    assert summary_line(out.getvalue(), "stats").startswith("stats 2 warmed")
    fetch(alice, "stats", cache=HIT)


# --- cache_stats ---------------------------------------------------------------------------------


def test_cache_stats_counts_the_requests_made_and_shows_redis_info(alice):
    active(alice)
    before = stats_json()["requests"]

    fetch(alice, "today", cache=MISS)
    fetch(alice, "today", cache=HIT)
    fetch(alice, "today", cache=HIT)
    fetch(alice, "stats", cache=MISS)
    report = stats_json()

    after = report["requests"]
    delta = {
        endpoint: {result: after[endpoint][result] - before[endpoint][result] for result in ("hit", "miss", "stale")}
        for endpoint in ("today", "stats", "content")
    }
    assert delta == {
        "today": {"hit": 2, "miss": 1, "stale": 0},
        "stats": {"hit": 0, "miss": 1, "stale": 0},
        "content": {"hit": 0, "miss": 0, "stale": 0},
    }
    today = after["today"]
    assert today["hit_ratio"] == pytest.approx((today["hit"] + today["stale"]) / today["total"])
    assert report["metrics_source"].startswith("this process only")

    redis = report["redis"]
    fields = {"keyspace_hits", "keyspace_misses", "hit_ratio", "used_memory", "maxmemory", "evicted_keys"}
    assert fields | {"connected_clients", "keys", "server", "source"} <= set(redis)
    assert redis["keys"][f"db{settings.REDIS_DB_CACHE}"] >= 3  # two namespace tokens and two entries at least
    if not settings.REDIS_EMBEDDED:
        assert redis["source"].startswith("INFO")
        assert all(isinstance(redis[name], int) for name in fields - {"hit_ratio"})
        assert redis["connected_clients"] >= 1


def test_cache_stats_prints_a_table_by_default(alice):
    fetch(alice, "today")

    output = run("cache_stats")

    assert "Cache requests (counted by this process only" in output
    assert summary_line(output, "today").split()[0] == "today"
    assert "Redis " in output and "keys " in output


def test_cache_stats_adds_up_the_counters_of_a_multiprocess_directory(db, tmp_path, monkeypatch):
    """What a command run beside gunicorn sees: two 'workers' wrote their counters to the
    directory; the command adds them up."""
    worker = (
        "from prometheus_client import Counter\n"
        "c = Counter('resee_cache_requests', '', ['endpoint', 'result'])\n"
        "c.labels(endpoint='today', result='hit').inc(3)\n"
        "c.labels(endpoint='today', result='miss').inc(1)\n"
    )
    for _ in range(2):
        subprocess.run(
            [sys.executable, "-c", worker], env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, check=True
        )
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    report = stats_json()

    assert report["metrics_source"].startswith(f"every process writing to {tmp_path}")
    assert report["requests"]["today"] | {} == {
        "hit": 6,
        "stale": 0,
        "miss": 2,
        "bypass": 0,
        "total": 8,
        "hit_ratio": 0.75,
    }


def test_with_redis_down_cache_stats_fails_with_a_message_after_the_counters(db, swap_redis):
    swap_redis(cache=DownRedis())
    out = StringIO()

    with pytest.raises(CommandError, match="Redis of the 'api' cache at .* is unreachable"):
        call_command("cache_stats", stdout=out)

    assert "Cache requests" in out.getvalue()


def test_cache_stats_run_against_a_dead_redis_exits_1_without_a_traceback():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "DEBUG": "1", "REDIS_URL": f"redis://127.0.0.1:{port}"}

    result = subprocess.run(
        [sys.executable, "manage.py", "cache_stats"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 1, result
    assert f"127.0.0.1:{port}/{settings.REDIS_DB_CACHE} is unreachable" in result.stderr
    assert "Traceback" not in result.stderr
    assert "today" in result.stdout  # the counters are still printed


class GoneAfterPing(DownRedis):
    """A Redis that answers the command's ping, then every command fails: it went away."""

    def ping(self):
        return True


def test_redis_lost_in_the_middle_of_a_warm_stops_it_with_a_summary_and_a_message(alice, bob, make_client, swap_redis):
    for client in (alice, bob, make_client("carol")):
        active(client)
    swap_redis(cache=GoneAfterPing())
    out = StringIO()

    with pytest.raises(CommandError, match="Redis became unreachable while warming"):
        call_command("cache_warm", stdout=out, stderr=StringIO())

    # The breaker opens on the third failure in a row (BREAKER_FAILURES): two are counted, then it stops.
    assert summary_line(out.getvalue(), "today").endswith("1 failed")
    assert summary_line(out.getvalue(), "stats").endswith("1 failed")
