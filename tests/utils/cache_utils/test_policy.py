"""utils.cache_utils.policy: every write bumps what the table says its change makes stale, no
less on any path (services, admin and shell saves, bulk updates and creates), and the answers
it leaves alone really are unchanged."""

from datetime import date

import pytest
from django.db.models import F
from django.db.models.signals import post_delete, post_save

from analytics.models import DayTally
from content.models import Category, Content
from content.services import category_create, category_delete, category_update, content_delete, content_update
from review.models import ReviewHistory, ReviewSchedule
from review.services import review_complete, schedule_set_active
from tests.helpers import ENDPOINTS, HIT, committed, fetch, seed, uncached, warm
from utils import clock
from utils.cache_utils.conf import CONTENT, STATS, TODAY
from utils.cache_utils.policy import CREATED, DELETED, POLICY, changes_with_clock, namespaces_for
from utils.cache_utils.reads import refresh_reads_for

MODELS = (Content, Category, ReviewSchedule, ReviewHistory, DayTally)


@pytest.mark.parametrize(
    "model, change, stale",
    [
        (Content, [CREATED], {CONTENT, STATS}),
        (Content, ["title"], {CONTENT, TODAY}),
        (Content, ["body", "updated_at"], {CONTENT, TODAY}),
        (Content, ["updated_at"], {CONTENT}),
        (Content, ["category_id"], {CONTENT, TODAY, STATS}),
        (Category, [CREATED], set()),
        (Category, ["name"], {CONTENT, TODAY, STATS}),
        (ReviewSchedule, ["next_review_date", "updated_at"], {TODAY, STATS}),  # the summary's due
        (ReviewSchedule, ["interval_step"], {TODAY}),
        (ReviewSchedule, ["updated_at"], set()),
        (ReviewSchedule, ["reviews", "remembered"], {TODAY, STATS}),  # an FSRS preview's fuzz
        (ReviewSchedule, ["remembered", "lapses"], {STATS}),
        (ReviewHistory, [CREATED, "result"], set()),  # the stats read the counts
        (DayTally, [CREATED], {STATS}),
    ],
)
def test_a_change_makes_stale_what_the_table_says(model, change, stale):
    assert namespaces_for(model, change=change) == stale


@pytest.mark.parametrize("model", [model for model in MODELS if model is not ReviewHistory])
def test_a_change_the_table_does_not_name_makes_everything_of_its_model_stale(model):
    everything = set().union(*POLICY[model._meta.label].changes.values())
    assert namespaces_for(model, change=["*"]) == namespaces_for(model, change=["owner"]) == everything != set()


class Written:
    """The changes the database saw during a block, as (model, change) pairs: what the policy
    must cover. Recorded from the signals, which fire whoever writes, muted or not."""

    def __init__(self):
        self.changes: list[tuple[type, str]] = []

    def saved(self, sender, created, update_fields=None, **kwargs):
        names = [CREATED] if created else sorted(update_fields or ["*"])
        self.changes += [(sender, name) for name in names]

    def deleted(self, sender, **kwargs):
        self.changes.append((sender, DELETED))

    def stale(self) -> set[str]:
        return set().union(*(namespaces_for(model, change=[name]) for model, name in self.changes))


@pytest.fixture
def written():
    record = Written()
    for model in MODELS:
        post_save.connect(record.saved, sender=model, weak=False)
        post_delete.connect(record.deleted, sender=model, weak=False)
    yield record
    for model in MODELS:
        post_save.disconnect(record.saved, sender=model)
        post_delete.disconnect(record.deleted, sender=model)


def _services(owner_id: int, cards: dict) -> dict:
    content = lambda: Content.objects.get(pk=cards["hola"]["id"])  # noqa: E731
    category = lambda: Category.objects.get(pk=cards["category"]["id"])  # noqa: E731
    return {
        "category_create": lambda: category_create(owner_id=owner_id, name="History"),
        "category_rename": lambda: category_update(category=category(), name="Idiomas"),
        "category_delete": lambda: category_delete(category=category()),
        "content_title": lambda: content_update(content=content(), title="hola!"),
        "content_body": lambda: content_update(content=content(), body="new"),
        "content_uncategorise": lambda: content_update(content=content(), category_id=None),
        "reviewed_content_categorise": lambda: content_update(
            content=Content.objects.get(pk=cards["pi"]["id"]), category_id=cards["category"]["id"]
        ),
        "content_delete": lambda: content_delete(content=content()),
        "review_complete": lambda: review_complete(user_id=owner_id, content_id=cards["hola"]["id"], result="forgot"),
        "schedule_pause": lambda: schedule_set_active(schedule=content().schedule, is_active=False),
    }


SERVICES = list(_services(0, {}))


@pytest.mark.parametrize("service", SERVICES)
def test_a_service_bumps_exactly_what_its_writes_make_stale(alice, service, written, bump_calls):
    cards = seed(alice)
    written.changes.clear()
    bump_calls.clear()
    with committed():
        _services(alice.user.id, cards)[service]()
    bumped = set().union(*(set(namespaces) for user_id, namespaces in bump_calls if user_id == alice.user.id))
    assert written.changes, "the service wrote nothing"
    assert bumped == written.stale()


@pytest.mark.parametrize("service", SERVICES)
def test_after_a_service_every_answer_is_the_databases(alice, service):
    cards = seed(alice)
    warmed = {endpoint: warm(alice, endpoint) for endpoint in ENDPOINTS}
    with committed():
        _services(alice.user.id, cards)[service]()
    for endpoint in ENDPOINTS:
        response = fetch(alice, endpoint)
        assert response.json() == uncached(alice, endpoint).json(), endpoint
        if response["X-Cache"] == HIT:  # left alone by the policy: then it must not have changed
            assert response.content == warmed[endpoint].content, endpoint


BULK_WRITES = {
    "content update": lambda owner: Content.objects.filter(owner_id=owner).update(title="renamed in bulk"),
    "category update": lambda owner: Category.objects.filter(owner_id=owner).update(name="Renamed"),
    "schedule update": lambda owner: ReviewSchedule.objects.filter(owner_id=owner).update(is_active=False),
    "history bulk create": lambda owner: ReviewHistory.objects.bulk_create(
        [
            ReviewHistory(user_id=owner, content=content, result="forgot", reviewed_at=clock.now())
            for content in Content.objects.filter(owner_id=owner)
        ]
    ),
    "content bulk create": lambda owner: Content.objects.bulk_create([Content(owner_id=owner, title="bulk")]),
    "history queryset delete": lambda owner: ReviewHistory.objects.filter(user_id=owner).delete(),
    "schedule counts update": lambda owner: ReviewSchedule.objects.filter(owner_id=owner).update(
        remembered=F("reviews")
    ),
    "day tally bulk create": lambda owner: DayTally.objects.bulk_create(
        [DayTally(user_id=owner, day=date(2020, 1, 1), run_start=date(2020, 1, 1))]
    ),
    "day tally queryset delete": lambda owner: DayTally.objects.filter(user_id=owner).delete(),
}


def test_a_bulk_update_that_gives_rows_to_another_user_bumps_both(alice, bob, bump_calls):
    seed(alice)
    bump_calls.clear()
    with committed():
        ReviewSchedule.objects.filter(owner_id=alice.user.id).update(owner_id=bob.user.id)
    assert {user_id for user_id, _ in bump_calls} == {alice.user.id, bob.user.id}


@pytest.mark.parametrize("write", BULK_WRITES)
def test_a_bulk_write_outside_the_services_still_leaves_every_answer_the_databases(alice, bob, write):
    cards = seed(alice)
    seed(bob)
    for client in (alice, bob):
        for endpoint in ENDPOINTS:
            warm(client, endpoint)
    with committed():
        BULK_WRITES[write](alice.user.id)
    assert cards
    for endpoint in ENDPOINTS:
        assert fetch(alice, endpoint).json() == uncached(alice, endpoint).json(), endpoint
        assert fetch(bob, endpoint, cache=HIT).json() == uncached(bob, endpoint).json(), endpoint


def test_an_admin_style_save_without_update_fields_bumps_everything_its_model_shows(alice, bump_calls):
    cards = seed(alice)
    content = Content.objects.get(pk=cards["hola"]["id"])
    content.title = "saved from the shell"
    bump_calls.clear()
    with committed():
        content.save()
    assert bump_calls == [(alice.user.id, tuple(sorted({CONTENT, STATS, TODAY})))]


def test_an_answer_carries_its_end_exactly_when_the_clock_table_says_the_clock_changes_it(alice):
    reads = refresh_reads_for(alice.user.id)
    assert {read.namespace for read in reads} == {CONTENT, STATS, TODAY}

    for read in reads:
        assert (read.until is not None) == bool(changes_with_clock(read.namespace)), read.namespace
        if read.until is not None:
            read.compute()
            assert read.until() > clock.now().timestamp()
