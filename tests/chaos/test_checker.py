"""chaos.checker: a history of operations against the model of what a correct system may answer.
First over small histories written by hand; then over chaos runs of the app served with one bug
patched in (chaos/mutants), where a checker that finds nothing would prove nothing."""

import itertools

import pytest

from chaos.checker import check
from tests.servers import chaos_run

USER = "c0u0"
_clock = itertools.count(1)


def op(
    kind: str, status: int | None = 200, *, args=None, answer=None, token="t1", x=None, during: bool = False
) -> dict:
    """One operation of USER, after the previous one (or, `during`, overlapping it)."""
    start = next(_clock)
    return {"c": 0, "u": USER, "k": kind, "a": args or {}, "t0": start - (1.5 if during else 0), "t1": start + 0.5,
            "tk": token, "s": status, "x": x, "json": True, "r": answer, "e": None}  # fmt: skip


def created(card: int, title: str) -> dict:
    return op("create", 201, args={"title": title, "category": None}, answer={"id": card})


def content(*rows) -> dict:
    return op("content", answer=[[card, title, None, None] for card, title in rows], x="HIT")


def checked(*ops, state: dict | None = None, faults=(), day_ends: float = float("inf")) -> dict:
    history = [{**one, "i": index} for index, one in enumerate(ops)]
    end = state if state is not None else {USER: _state_of(history)}
    return {name: len(found) for name, found in check(history, list(faults), end, day_ends)["anomalies"].items()}


def _state_of(history) -> dict:
    """The database state the acknowledged writes leave (a correct system's)."""
    cards = {}
    for one in history:
        if one["k"] == "create" and one["s"] == 201:
            cards[str(one["r"]["id"])] = one["a"]["title"]
        elif one["k"] == "edit" and one["s"] == 200:
            cards[str(one["a"]["card"])] = one["a"]["title"]
        elif one["k"] == "delete" and one["s"] == 204:
            cards.pop(str(one["a"]["card"]))
    return {"cards": cards, "categories": {}, "settings": {}, "reviews": 0}


NONE = {"stale_read": 0, "lost_write": 0, "read_5xx": 0, "write_5xx": 0, "revoked_accepted": 0}


def test_a_history_a_correct_system_could_answer_has_no_anomaly():
    ops = [created(1, "a card"), content((1, "a card")), op("edit", args={"card": 1, "title": "b card"})]
    assert checked(*ops, content((1, "b card"))) == NONE


def test_a_title_from_before_an_acknowledged_edit_is_a_stale_read():
    ops = [created(1, "a card"), op("edit", args={"card": 1, "title": "b card"}), content((1, "a card"))]
    assert checked(*ops)["stale_read"] == 1


def test_a_read_that_overlapped_the_edit_may_show_either_title():
    edit = op("edit", args={"card": 1, "title": "b card"})
    assert checked(created(1, "a card"), edit, {**content((1, "a card")), "t0": edit["t0"] + 0.1}) == NONE


def test_an_edit_of_unknown_outcome_allows_both_titles():
    ops = [created(1, "a card"), op("edit", None, args={"card": 1, "title": "b card"})]
    state = {USER: {"cards": {"1": "b card"}, "categories": {}, "settings": {}, "reviews": 0}}
    assert checked(*ops, content((1, "a card")), content((1, "b card")), state=state) == NONE


def test_a_deleted_card_shown_again_is_a_stale_read():
    ops = [created(1, "a card"), created(2, "b card"), op("delete", 204, args={"card": 1})]
    assert checked(*ops, content((2, "b card"), (1, "a card")))["stale_read"] == 1


def test_a_created_card_missing_from_the_list_is_a_stale_read():
    assert checked(created(1, "a card"), created(2, "b card"), content((1, "a card")))["stale_read"] == 1


def test_a_completed_card_still_due_today_is_a_stale_read():
    ops = [created(1, "a card"), op("complete", args={"card": 1}), op("today", answer=[[1, "a card", "2026-01-01"]])]
    state = {USER: {**_state_of([{**o, "i": 0} for o in ops]), "reviews": 1}}
    assert checked(*ops, state=state)["stale_read"] == 1


def test_after_the_learners_day_ends_a_completed_card_may_be_due_again():
    ops = [created(1, "a card"), op("complete", args={"card": 1}), op("today", answer=[[1, "a card", "2026-01-02"]])]
    state = {USER: {**_state_of([{**o, "i": 0} for o in ops]), "reviews": 1}}
    assert checked(*ops, state=state, day_ends=ops[-1]["t0"]) == NONE


def test_stats_that_have_not_counted_an_acknowledged_completion_are_a_stale_read():
    ops = [created(1, "a card"), op("complete", args={"card": 1}), op("stats", answer={"reviews_today": 0, "due": 0})]
    state = {USER: {**_state_of([{**o, "i": 0} for o in ops]), "reviews": 1}}
    assert checked(*ops, state=state)["stale_read"] == 1


def test_an_acknowledged_write_missing_from_the_database_is_a_lost_write():
    ops = [created(1, "a card"), op("edit", args={"card": 1, "title": "b card"})]
    state = {USER: {"cards": {"1": "a card"}, "categories": {}, "settings": {}, "reviews": 0}}
    assert checked(*ops, state=state)["lost_write"] == 1


def test_a_token_accepted_after_its_logouts_answer_is_a_revocation_anomaly():
    ops = [op("logout", 204, args={"token": "t1"}), op("revoked_probe", 200, args={"token": "t1"}, answer=[])]
    assert checked(*ops)["revoked_accepted"] == 1
    refused = [op("logout", 204, args={"token": "t1"}), op("revoked_probe", 401, args={"token": "t1"})]
    assert checked(*refused) == NONE


def test_a_503_is_an_honest_answer_only_while_the_database_is_down():
    read, write = op("today", 503, x=None), op("edit", 503, args={"card": 9, "title": "x"})
    down = [{"kind": "pg_stop", "start": read["t0"] - 1, "end": write["t1"] + 1}]
    assert checked(read, write, faults=down) == NONE
    assert checked(read, write)["read_5xx"] == 1
    assert checked(read, write)["write_5xx"] == 1
    assert checked({**read, "s": 500}, faults=down)["read_5xx"] == 1


# --- the checker's self-test: the app served with one bug each --------------------------------


MUTANTS = [
    ("bump_before_commit", (), "stale_read"),
    ("bump_dropped", ("redis_pause",), "stale_read"),
    ("revocation_open", ("redis_pause", "redis_blackhole"), "revoked_accepted"),
    ("refresh_version_after", (), "stale_read"),
]


@pytest.mark.integration
@pytest.mark.parametrize(("mutant", "faults", "anomaly"), MUTANTS, ids=[m[0] for m in MUTANTS])
def test_a_short_run_of_the_app_with_a_known_bug_reports_it(tmp_path, mutant, faults, anomaly):
    # Note: long gaps between the faults: the cache fills and the breakers close again, so what a
    # fault left behind is read back before the learner's next write replaces it.
    summary = chaos_run(tmp_path, mutant=mutant, fault_kinds=faults, rounds=3, operations=2000, gap=(5.0, 6.0))
    assert summary["anomalies"][anomaly] > 0, summary
