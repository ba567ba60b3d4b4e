"""utils.cache_utils.refresh: once a write's response is out, the writer's hottest answers are
recomputed under the token the write's bump created, so the next read is a hit that shows the
write; a write committed while a refresh computes still shows; off, the next read is a miss.

These tests commit for real (transaction=True): a refresh runs when the request ends, after the
write's own commit, as under gunicorn."""

import pytest
from django.conf import settings
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from content.models import Content
from content.selectors import content_index_read
from content.services import content_update
from tests.helpers import HIT, MISS, api_complete, before_store, fetch, seed, titles, uncached, warm
from utils.cache_utils.warm import WARMED
from utils.cache_utils.warm import warm as refresh_entry

pytestmark = pytest.mark.django_db(transaction=True)


def _fresh_hit(client, endpoint: str):
    response = fetch(client, endpoint, cache=HIT)
    assert response.json() == uncached(client, endpoint).json(), endpoint
    return response


def test_after_a_completion_the_writers_today_list_and_stats_are_hits_that_show_it(alice):
    cards = seed(alice)
    warm(alice, "today"), warm(alice, "stats")

    api_complete(alice, cards["hola"]["id"], "forgot")

    assert "hola" not in titles(_fresh_hit(alice, "today"))
    assert _fresh_hit(alice, "stats").json()["total_reviews"] == 2


def test_after_a_title_edit_the_content_list_and_todays_list_are_hits_that_show_it(alice):
    cards = seed(alice)
    warm(alice, "content"), warm(alice, "today")

    assert alice.patch(f"/api/content/{cards['hola']['id']}/", {"title": "hola!"}).status_code == 200

    assert "hola!" in titles(_fresh_hit(alice, "content"))
    assert "hola!" in titles(_fresh_hit(alice, "today"))


def test_with_refresh_on_write_off_the_next_read_is_a_miss(alice):
    cards = seed(alice)
    warm(alice, "today")
    with override_settings(RESEE_CACHE={**settings.RESEE_CACHE, "REFRESH_ON_WRITE": False}):
        api_complete(alice, cards["hola"]["id"], "forgot")
    assert fetch(alice, "today", cache=MISS).json() == uncached(alice, "today").json()


def test_a_write_committed_while_the_refresh_computes_still_shows(alice, swap_redis):
    cards = seed(alice)
    warm(alice, "today")
    hola = cards["hola"]["id"]
    renamed = []

    def rename_once():
        if not renamed:
            renamed.append(True)
            content_update(content=Content.objects.get(pk=cards["bonjour"]["id"]), title="renamed meanwhile")

    before_store(swap_redis, rename_once)
    api_complete(alice, hola, "forgot")  # its refresh computes, then the rename commits, then it stores

    today = fetch(alice, "today")
    assert titles(today) == ["renamed meanwhile"]
    assert today.json() == uncached(alice, "today").json()


def test_a_write_committed_while_the_refresh_computes_is_not_hidden_under_its_own_token(alice):
    cards = seed(alice)
    warm(alice, "content")
    content_update(content=Content.objects.get(pk=cards["hola"]["id"]), title="hola!")  # the entry is stale
    read = content_index_read(user_id=alice.user.id)

    def compute_then_a_write_commits():
        rows = read.compute()
        content_update(content=Content.objects.get(pk=cards["bonjour"]["id"]), title="renamed meanwhile")
        return rows

    # Note: the racing write commits after the computation and before the store, so an entry
    # stored under the version read after computing (that write's own) would be served as fresh.
    assert refresh_entry(read._replace(compute=compute_then_a_write_commits)) == WARMED

    content = fetch(alice, "content")
    assert "renamed meanwhile" in titles(content)
    assert content.json() == uncached(alice, "content").json()


def test_with_the_cache_off_a_write_refreshes_nothing(alice):
    cards = seed(alice)
    api_complete(alice, cards["pi"]["id"])  # loads the revocation hash: both below start alike
    counted = []
    for card, refresh in (("hola", True), ("bonjour", False)):
        off = {**settings.RESEE_CACHE, "ENABLED": False, "REFRESH_ON_WRITE": refresh}
        with override_settings(RESEE_CACHE=off), CaptureQueriesContext(connection) as queries:
            api_complete(alice, cards[card]["id"], "forgot")
        counted.append(len(queries))
    assert counted[0] == counted[1]  # the completion's own queries, no recomputation
