"""Every write path invalidates what it changes, and only that.

Each test warms the endpoints, writes through one path (API, admin, "shell" ORM save, user
deletion), then checks that the next GET of every affected endpoint is a MISS that shows the
write, and that the endpoints the write cannot change are still a HIT with the same bytes.
"""

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import Client
from prometheus_client import REGISTRY

from content.models import Category, Content
from review.models import ReviewSchedule
from tests.helpers import (
    ENDPOINTS,
    HIT,
    MISS,
    api_complete,
    assert_fresh,
    create_category,
    create_content,
    fetch,
    seed,
    titles,
    uncached,
    warm,
)
from tests.servers import DownRedis
from utils import redis_layer
from utils.cache_utils import store

# Every test here runs on each Redis topology (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("redis_topology")

User = get_user_model()

CONTENT_DETAIL = "/api/content/{}/"
CATEGORY_DETAIL = "/api/content/categories/{}/"
SCHEDULE_DETAIL = "/api/review/schedules/{}/"


def warm_all(client, endpoints=ENDPOINTS) -> dict:
    """Warm each endpoint's plain GET; returns the HIT responses by endpoint."""
    return {endpoint: warm(client, endpoint) for endpoint in endpoints}


def assert_still_cached(client, warmed: dict) -> None:
    """Each warmed endpoint still answers the same bytes from the cache, and they are still the
    database's answer (a write the policy leaves out must really not change it)."""
    for endpoint, before in warmed.items():
        assert fetch(client, endpoint, cache=HIT).content == before.content, endpoint
        assert before.json() == uncached(client, endpoint).json(), endpoint


def assert_all_fresh(client, endpoints=ENDPOINTS) -> dict:
    return {endpoint: assert_fresh(client, endpoint).json() for endpoint in endpoints}


def namespace_tokens(user_id: int) -> dict:
    raw = store.client()
    return {namespace: raw.get(store.namespace_key(user_id, namespace)) for namespace in ENDPOINTS}


def stored_entry(user_id: int, endpoint: str, params: dict):
    """The live entry for these key parameters, or None."""
    try:
        return store.lookup(user_id=user_id, namespace=endpoint, params=params)
    except store.CacheMiss:
        return None


def warm_recording_key_params(client, monkeypatch) -> dict:
    """Warm every endpoint's plain GET and return the key parameters each view passed to the
    cache (recorded from the call, so the test does not restate the views' keys)."""
    seen = {}
    real_lookup = store.lookup

    def spy(*, user_id, namespace, params):
        seen[namespace] = params
        return real_lookup(user_id=user_id, namespace=namespace, params=params)

    with monkeypatch.context() as patch:
        patch.setattr(store, "lookup", spy)
        warm_all(client)
    assert set(seen) == set(ENDPOINTS), seen
    return seen


def patch_ok(client, url: str, payload: dict) -> dict:
    response = client.patch(url, payload)
    assert response.status_code == 200, response.content
    return response.json()


def schedule_id_of(content_id: int) -> int:
    return ReviewSchedule.objects.get(content_id=content_id).id


# --- Reviews -------------------------------------------------------------------------------------


def test_completing_a_review_invalidates_todays_list_and_the_stats(alice):
    cards = seed(alice)
    warmed = warm_all(alice)

    api_complete(alice, cards["hola"]["id"], "forgot")

    fresh = assert_all_fresh(alice, ["today", "stats"])
    assert [item["title"] for item in fresh["today"]["results"]] == ["bonjour"]
    assert (fresh["stats"]["total_reviews"], fresh["stats"]["reviews_today"]) == (2, 2)
    assert_still_cached(alice, {"content": warmed["content"]})


def test_completing_a_review_keeps_the_content_list_a_hit(alice):
    cards = seed(alice)
    warmed = warm_all(alice, ["content"])

    api_complete(alice, cards["bonjour"]["id"])

    assert_still_cached(alice, warmed)


# --- Content -------------------------------------------------------------------------------------


def test_creating_content_through_the_api_invalidates_all_three_endpoints(alice):
    seed(alice)
    warm_all(alice)

    create_content(alice, "brand new")

    fresh = assert_all_fresh(alice)
    assert fresh["content"]["results"][0]["title"] == "brand new"
    assert "brand new" in [item["title"] for item in fresh["today"]["results"]]
    assert fresh["stats"]["total_contents"] == 4


def test_renaming_content_invalidates_the_content_and_todays_lists_but_not_the_stats(alice):
    cards = seed(alice)
    warmed = warm_all(alice)

    patch_ok(alice, CONTENT_DETAIL.format(cards["hola"]["id"]), {"title": "hola!"})

    fresh = assert_all_fresh(alice, ["content", "today"])
    assert "hola!" in [item["title"] for item in fresh["content"]["results"]]
    assert sorted(item["title"] for item in fresh["today"]["results"]) == ["bonjour", "hola!"]
    assert_still_cached(alice, {"stats": warmed["stats"]})


def test_editing_a_due_cards_body_shows_in_the_content_list_and_todays_list_but_keeps_the_stats(alice):
    cards = seed(alice)
    warmed = warm_all(alice)
    warm(alice, "today", {"category_slug": "langs"})

    patch_ok(alice, CONTENT_DETAIL.format(cards["hola"]["id"]), {"body": "a new body"})

    fresh = assert_all_fresh(alice, ["content", "today"])
    assert "a new body" in [item["body"] for item in fresh["content"]["results"]]
    assert "a new body" in [item["body"] for item in fresh["today"]["results"]]
    filtered = fetch(alice, "today", {"category_slug": "langs"})  # cut out of the list just recomputed
    assert filtered.json() == uncached(alice, "today", {"category_slug": "langs"}).json()
    assert_still_cached(alice, {"stats": warmed["stats"]})


def test_moving_content_to_another_category_shows_in_the_filtered_lists(alice):
    cards = seed(alice)
    other = create_category(alice, "Maths", "maths")
    for endpoint in ("today", "content"):
        warm(alice, endpoint, {"category_slug": "maths"})

    patch_ok(alice, CONTENT_DETAIL.format(cards["hola"]["id"]), {"category_id": other["id"]})

    for endpoint in ("today", "content"):
        assert titles(assert_fresh(alice, endpoint, {"category_slug": "maths"})) == ["hola"]


def test_deleting_content_through_the_api_invalidates_all_three_endpoints(alice):
    cards = seed(alice)
    warm_all(alice)

    response = alice.delete(CONTENT_DETAIL.format(cards["hola"]["id"]))
    assert response.status_code == 204

    fresh = assert_all_fresh(alice)
    assert "hola" not in [item["title"] for item in fresh["content"]["results"]]
    assert [item["title"] for item in fresh["today"]["results"]] == ["bonjour"]
    assert fresh["stats"]["total_contents"] == 2


def test_deleting_a_reviewed_card_drops_its_reviews_from_the_stats(alice):
    cards = seed(alice)
    assert warm(alice, "stats").json()["total_reviews"] == 1

    assert alice.delete(CONTENT_DETAIL.format(cards["pi"]["id"])).status_code == 204

    assert assert_fresh(alice, "stats").json()["total_reviews"] == 0


# --- Categories ----------------------------------------------------------------------------------


def test_creating_a_category_changes_no_answer_and_leaves_all_three_a_hit(alice):
    seed(alice)
    warmed = warm_all(alice)

    create_category(alice, "History")

    assert_still_cached(alice, warmed)


def test_renaming_a_category_shows_the_new_name_in_the_content_list_and_todays_list(alice):
    cards = seed(alice)
    api_complete(alice, cards["hola"]["id"])  # so the category shows in the stats as well
    warm_all(alice)

    patch_ok(alice, CATEGORY_DETAIL.format(cards["category"]["id"]), {"name": "Idiomas"})

    fresh = assert_all_fresh(alice)
    content_categories = {item["title"]: item["category"] for item in fresh["content"]["results"]}
    assert content_categories["bonjour"]["name"] == "Idiomas"
    assert [item["category"]["name"] for item in fresh["today"]["results"]] == ["Idiomas"]
    assert "Idiomas" in [row["name"] for row in fresh["stats"]["success_rate_by_category"]]


def test_deleting_a_category_leaves_its_cards_uncategorised_everywhere(alice):
    cards = seed(alice)
    warm_all(alice)
    for endpoint in ("today", "content"):
        warm(alice, endpoint, {"category_slug": "langs"})

    assert alice.delete(CATEGORY_DETAIL.format(cards["category"]["id"])).status_code == 204

    fresh = assert_all_fresh(alice)
    assert all(item["category"] is None for item in fresh["content"]["results"])
    assert all(item["category"] is None for item in fresh["today"]["results"])
    for endpoint in ("today", "content"):  # taken out of the lists just recomputed
        filtered = fetch(alice, endpoint, {"category_slug": "langs"})
        assert (
            titles(filtered) == [] and filtered.json() == uncached(alice, endpoint, {"category_slug": "langs"}).json()
        )


# --- Schedules -----------------------------------------------------------------------------------


def test_pausing_a_schedule_invalidates_todays_list(alice):
    cards = seed(alice)
    warm_all(alice, ["today"])

    patch_ok(alice, SCHEDULE_DETAIL.format(schedule_id_of(cards["hola"]["id"])), {"is_active": False})

    fresh = assert_fresh(alice, "today").json()
    assert [item["title"] for item in fresh["results"]] == ["bonjour"]
    assert fresh["total_count"] == 2


def test_pausing_a_schedule_shows_in_the_stats_summary_and_keeps_the_content_list_a_hit(alice):
    cards = seed(alice)
    warmed = warm_all(alice, ["content", "stats"])

    patch_ok(alice, SCHEDULE_DETAIL.format(schedule_id_of(cards["hola"]["id"])), {"is_active": False})

    assert assert_all_fresh(alice, ["stats"])["stats"]["summary"]["due"] == warmed["stats"].json()["summary"]["due"] - 1
    assert_still_cached(alice, {"content": warmed["content"]})


def test_resuming_a_schedule_brings_the_card_back_to_todays_list(alice):
    cards = seed(alice)
    url = SCHEDULE_DETAIL.format(schedule_id_of(cards["hola"]["id"]))
    patch_ok(alice, url, {"is_active": False})
    assert titles(warm(alice, "today")) == ["bonjour"]

    patch_ok(alice, url, {"is_active": True})

    assert sorted(titles(assert_fresh(alice, "today"))) == ["bonjour", "hola"]


# --- Other users ---------------------------------------------------------------------------------


def test_another_users_writes_leave_my_entries_a_hit(alice, bob):
    seed(alice)
    warmed = warm_all(alice)

    bobs = seed(bob, "B-")
    api_complete(bob, bobs["hola"]["id"])
    patch_ok(bob, CATEGORY_DETAIL.format(bobs["category"]["id"]), {"name": "B-Idiomas"})

    assert_still_cached(alice, warmed)


# --- Paths other than the API --------------------------------------------------------------------


def test_an_admin_edit_of_a_content_title_shows_in_the_owners_cached_list(
    alice, make_user, django_capture_on_commit_callbacks
):
    cards = seed(alice)
    warm_all(alice)
    admin = Client()
    admin.force_login(make_user("root", is_staff=True, is_superuser=True))
    change_url = f"/admin/content/content/{cards['hola']['id']}/change/"
    form = admin.get(change_url)
    assert form.status_code == 200
    for field in ("title", "body", "category", "owner"):
        assert f'name="{field}"' in form.content.decode(), field

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            change_url,
            {
                "title": "hola (edited in the admin)",
                "body": "hello",
                "category": cards["category"]["id"],
                "owner": alice.user.id,
                "_save": "Save",
            },
        )
    assert response.status_code == 302, response.content.decode()[:2000]

    fresh = assert_all_fresh(alice)
    assert "hola (edited in the admin)" in [item["title"] for item in fresh["content"]["results"]]
    assert "hola (edited in the admin)" in [item["title"] for item in fresh["today"]["results"]]


def test_an_admin_delete_of_a_category_invalidates_the_owners_lists(
    alice, make_user, django_capture_on_commit_callbacks
):
    cards = seed(alice)
    warm_all(alice)
    admin = Client()
    admin.force_login(make_user("root", is_staff=True, is_superuser=True))

    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(f"/admin/content/category/{cards['category']['id']}/delete/", {"post": "yes"})
    assert response.status_code == 302

    fresh = assert_all_fresh(alice)
    assert all(item["category"] is None for item in fresh["content"]["results"])


def test_a_shell_style_save_of_a_content_invalidates_the_owners_lists(alice, django_capture_on_commit_callbacks):
    cards = seed(alice)
    warm_all(alice)

    with django_capture_on_commit_callbacks(execute=True):
        content = Content.objects.get(pk=cards["bonjour"]["id"])
        content.title = "bonjour (edited in the shell)"
        content.save()

    fresh = assert_all_fresh(alice)
    assert fresh["content"]["results"][1]["title"] == "bonjour (edited in the shell)"
    assert "bonjour (edited in the shell)" in [item["title"] for item in fresh["today"]["results"]]


def test_a_shell_style_schedule_save_invalidates_today_and_stats_but_not_content(
    alice, django_capture_on_commit_callbacks
):
    """A save naming no fields may have changed the card's review counts too: stats are stale."""
    cards = seed(alice)
    warmed = warm_all(alice)

    with django_capture_on_commit_callbacks(execute=True):
        schedule = ReviewSchedule.objects.get(content_id=cards["hola"]["id"])
        schedule.is_active = False
        schedule.reviews = 3
        schedule.save()

    assert titles(assert_fresh(alice, "today")) == ["bonjour"]
    assert assert_fresh(alice, "stats").json()["total_reviews"] == 4
    assert_still_cached(alice, {"content": warmed["content"]})


def test_a_write_invalidates_only_once_its_transaction_commits(alice, django_capture_on_commit_callbacks):
    """Until the commit the entry stays a HIT (other readers still see the committed rows);
    right after it, the next GET is a MISS."""
    cards = seed(alice)
    before = warm(alice, "content")

    with django_capture_on_commit_callbacks(execute=True):
        Content.objects.filter(pk=cards["pi"]["id"]).get().save()
        Category.objects.get(pk=cards["category"]["id"]).save()
        assert fetch(alice, "content", cache=HIT).content == before.content

    assert_fresh(alice, "content")


def test_a_rolled_back_write_does_not_invalidate(alice):
    seed(alice)
    warmed = warm_all(alice)

    with pytest.raises(RuntimeError), transaction.atomic():
        content = Content.objects.get(title="hola")
        content.title = "never committed"
        content.save()
        raise RuntimeError("roll back")

    assert_still_cached(alice, warmed)


# --- User deletion -------------------------------------------------------------------------------


def assert_deleting_drops_every_answer(user_id: int, before: dict, key_params: dict, capture) -> None:
    """Delete the user (committing): every namespace token moves on and no entry of theirs is left."""
    with capture(execute=True):
        User.objects.get(pk=user_id).delete()
    after = namespace_tokens(user_id)
    assert all(after[namespace] not in (None, before[namespace]) for namespace in ENDPOINTS), (before, after)
    assert all(stored_entry(user_id, endpoint, key_params[endpoint]) is None for endpoint in ENDPOINTS)


def test_deleting_a_user_bumps_all_of_their_namespaces(bob, django_capture_on_commit_callbacks, monkeypatch):
    seed(bob, "B-")
    key_params = warm_recording_key_params(bob, monkeypatch)
    bob_id = bob.user.id
    before = namespace_tokens(bob_id)
    assert None not in before.values()
    assert all(stored_entry(bob_id, endpoint, key_params[endpoint]) is not None for endpoint in ENDPOINTS)

    assert_deleting_drops_every_answer(bob_id, before, key_params, django_capture_on_commit_callbacks)


def test_deleting_a_user_without_data_still_drops_their_cached_answers(
    bob, django_capture_on_commit_callbacks, monkeypatch
):
    """No content, no schedules: only the user's own post_delete can bump the namespaces."""
    key_params = warm_recording_key_params(bob, monkeypatch)
    bob_id = bob.user.id
    before = namespace_tokens(bob_id)

    assert_deleting_drops_every_answer(bob_id, before, key_params, django_capture_on_commit_callbacks)


def test_a_deleted_users_token_gets_no_answer_and_a_new_user_gets_only_their_own(
    bob, make_client, django_capture_on_commit_callbacks
):
    seed(bob, "B-")
    warm_all(bob)
    with django_capture_on_commit_callbacks(execute=True):
        User.objects.get(pk=bob.user.id).delete()

    carol = make_client("carol")
    for endpoint in ENDPOINTS:
        fetch(bob, endpoint, status=401)
        assert fetch(carol, endpoint, cache=MISS).json() == uncached(carol, endpoint).json()
    assert titles(fetch(carol, "content", cache=HIT)) == []
    assert titles(fetch(carol, "today", cache=HIT)) == []


# --- Eviction ------------------------------------------------------------------------------------


def evict_namespaces(user_id: int) -> None:
    """What LRU eviction or a Redis restart does to the namespace tokens."""
    store.client().delete(*(store.namespace_key(user_id, namespace) for namespace in ENDPOINTS))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_after_a_write_and_an_eviction_of_the_namespace_tokens_the_pre_write_body_is_never_served(alice, endpoint):
    seed(alice)
    stale = warm(alice, endpoint)

    create_content(alice, "written before the eviction")
    evict_namespaces(alice.user.id)

    response = assert_fresh(alice, endpoint)
    assert response.content != stale.content
    assert fetch(alice, endpoint, cache=HIT).content == response.content


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_eviction_before_the_write_is_no_different(alice, endpoint):
    seed(alice)
    stale = warm(alice, endpoint)

    evict_namespaces(alice.user.id)
    create_content(alice, "written after the eviction")

    response = assert_fresh(alice, endpoint)
    assert response.content != stale.content


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_evicted_namespace_token_turns_the_next_get_into_a_miss(alice, endpoint):
    seed(alice)
    stale = warm(alice, endpoint)

    evict_namespaces(alice.user.id)

    assert fetch(alice, endpoint, cache=MISS).content == stale.content
    fetch(alice, endpoint, cache=HIT)


def test_an_evicted_entry_is_recomputed(alice, monkeypatch):
    seed(alice)
    key_params = warm_recording_key_params(alice, monkeypatch)

    store.client().delete(store.entry_key(alice.user.id, "today", key_params["today"]))

    fetch(alice, "today", cache=MISS)
    fetch(alice, "today", cache=HIT)


# --- A bump that cannot reach Redis --------------------------------------------------------------


def test_a_write_commits_and_the_failed_invalidation_is_counted_when_redis_is_down(alice):
    """A bump that cannot reach Redis is counted as a failed Redis call (docs/cache.md, "No
    invalidation is lost": it is also kept as a debt)."""
    seed(alice)
    labels = {"purpose": "cache", "operation": "invalidate"}
    failures = REGISTRY.get_sample_value("resee_redis_errors_total", labels) or 0.0

    with redis_layer.use(redis_layer.RedisLayer(stand_ins={redis_layer.CACHE: DownRedis()})):
        created = create_content(alice, "written during the outage")

    assert Content.objects.filter(pk=created["id"]).exists()
    assert REGISTRY.get_sample_value("resee_redis_errors_total", labels) == failures + 1
    assert "written during the outage" in titles(fetch(alice, "content"))
