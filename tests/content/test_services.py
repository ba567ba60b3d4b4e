"""content.services and content.selectors called directly: the rules the views rely on."""

from datetime import UTC, date, datetime
from unittest import mock

import pytest
from django.http import Http404
from rest_framework.exceptions import ValidationError

from content import selectors, services
from content.models import Category, Content, content_hash
from review.models import ReviewSchedule


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def other(make_user):
    return make_user("other")


def error_fields(excinfo) -> set[str]:
    return set(excinfo.value.detail)


# --- content_create and its schedule -------------------------------------------------------------


@pytest.mark.parametrize(
    "time_zone, expected",
    [("UTC", date(2030, 1, 1)), ("Asia/Seoul", date(2030, 1, 2)), ("America/New_York", date(2030, 1, 1))],
)
def test_new_content_is_due_on_todays_date_in_the_configured_time_zone(owner, settings, time_zone, expected):
    settings.TIME_ZONE = time_zone
    late_evening_utc = datetime(2030, 1, 1, 20, 30, tzinfo=UTC)
    with mock.patch("utils.clock.now", return_value=late_evening_utc):
        content = services.content_create(owner_id=owner.id, title="ser")
    schedule = ReviewSchedule.objects.get(content=content)
    assert schedule.next_review_date == expected
    assert (schedule.owner_id, schedule.interval_step, schedule.is_active, schedule.initial_review_completed) == (
        owner.id,
        0,
        True,
        False,
    )


def test_content_is_not_created_when_its_schedule_cannot_be(owner):
    with mock.patch("content.services.schedule_create_for", side_effect=RuntimeError("boom")):
        with pytest.raises(RuntimeError):
            services.content_create(owner_id=owner.id, title="ser")
    assert not Content.objects.exists()


def test_content_create_refuses_another_owners_category(owner, other):
    theirs = Category.objects.create(owner=other, name="Theirs", slug="theirs")
    with pytest.raises(ValidationError) as excinfo:
        services.content_create(owner_id=owner.id, title="ser", category_id=theirs.pk)
    assert error_fields(excinfo) == {"category_id"}
    assert not Content.objects.exists()
    assert not ReviewSchedule.objects.exists()


# --- content_update ------------------------------------------------------------------------------


@pytest.fixture
def categorised(owner):
    category = Category.objects.create(owner=owner, name="Verbs", slug="verbs")
    return services.content_create(owner_id=owner.id, title="ser", body="to be", category_id=category.pk)


def reloaded(content: Content) -> Content:
    return Content.objects.get(pk=content.pk)


def test_content_update_without_category_id_keeps_the_category(categorised):
    services.content_update(content=categorised, title="estar")
    after = reloaded(categorised)
    assert (after.title, after.body, after.category_id) == ("estar", "to be", categorised.category_id)


def test_content_update_with_category_id_none_clears_the_category(categorised):
    services.content_update(content=categorised, category_id=None)
    assert reloaded(categorised).category_id is None


def test_content_update_refuses_another_owners_category_and_saves_nothing(categorised, other):
    theirs = Category.objects.create(owner=other, name="Theirs", slug="theirs")
    before = reloaded(categorised)
    with pytest.raises(ValidationError) as excinfo:
        services.content_update(content=categorised, title="moved", category_id=theirs.pk)
    assert error_fields(excinfo) == {"category_id"}
    after = reloaded(categorised)
    assert (after.title, after.category_id, after.updated_at) == (before.title, before.category_id, before.updated_at)


# --- categories ----------------------------------------------------------------------------------


def test_category_create_prefers_the_given_slug_over_the_name(owner):
    assert services.category_create(owner_id=owner.id, name="Verbs", slug="v").slug == "v"


def test_a_duplicate_slug_is_a_validation_error_and_the_database_stays_usable(owner):
    services.category_create(owner_id=owner.id, name="Verbs")
    with pytest.raises(ValidationError) as excinfo:
        services.category_create(owner_id=owner.id, name="VERBS")
    assert error_fields(excinfo) == {"slug"}
    # The failed INSERT ran in its own savepoint, so the surrounding transaction still works.
    assert services.category_create(owner_id=owner.id, name="Nouns").slug == "nouns"
    assert sorted(Category.objects.values_list("slug", flat=True)) == ["nouns", "verbs"]


def test_category_update_renames_without_touching_the_slug(owner):
    category = services.category_create(owner_id=owner.id, name="Verbs")
    services.category_update(category=category, name="Irregular Verbs")
    stored = Category.objects.get(pk=category.pk)
    assert (stored.name, stored.slug) == ("Irregular Verbs", "verbs")


def test_category_update_to_a_taken_slug_is_a_validation_error_and_keeps_the_row(owner):
    services.category_create(owner_id=owner.id, name="Nouns")
    category = services.category_create(owner_id=owner.id, name="Verbs")
    with pytest.raises(ValidationError) as excinfo:
        services.category_update(category=category, slug="nouns")
    assert error_fields(excinfo) == {"slug"}
    assert Category.objects.get(pk=category.pk).slug == "verbs"


# --- selectors -----------------------------------------------------------------------------------


def test_selectors_never_return_another_owners_rows(owner, other):
    category = Category.objects.create(owner=other, name="Theirs", slug="theirs")
    content = services.content_create(owner_id=other.id, title="theirs", category_id=category.pk)
    assert list(selectors.category_list_for(user_id=owner.id)) == []
    assert list(selectors.content_list_for(user_id=owner.id)) == []
    with pytest.raises(Http404):
        selectors.category_get_for(user_id=owner.id, category_id=category.pk)
    with pytest.raises(Http404):
        selectors.content_get_for(user_id=owner.id, content_id=content.pk)


@pytest.mark.parametrize("ordering, newest_id_first", [("title", False), ("-title", True)])
def test_content_list_breaks_ties_by_id_in_the_direction_of_the_ordering(owner, ordering, newest_id_first):
    ids = [services.content_create(owner_id=owner.id, title="same", body=str(n)).pk for n in range(4)]
    listed = [c.pk for c in selectors.content_list_for(user_id=owner.id, ordering=ordering)]
    assert listed == sorted(ids, reverse=newest_id_first)


# --- one card per (title, body) per owner: the hash imports skip by -----------------------------


def test_an_owner_cannot_create_the_same_card_twice(owner, other):
    services.content_create(owner_id=owner.id, title="ser", body="to be")
    with pytest.raises(ValidationError) as excinfo:
        services.content_create(owner_id=owner.id, title="ser", body="to be")
    assert error_fields(excinfo) == {"title"}
    services.content_create(owner_id=owner.id, title="ser", body="to be, again")
    services.content_create(owner_id=other.id, title="ser", body="to be")
    assert Content.objects.filter(title="ser").count() == 3
    assert ReviewSchedule.objects.count() == 3


def test_editing_a_card_rehashes_it_and_refuses_to_make_it_a_twin(owner):
    card = services.content_create(owner_id=owner.id, title="ser", body="to be")
    services.content_create(owner_id=owner.id, title="estar", body="to be")
    services.content_update(content=card, body="to be (essence)")
    assert Content.objects.get(pk=card.pk).content_hash == content_hash("ser", "to be (essence)")
    with pytest.raises(ValidationError):
        services.content_update(content=Content.objects.get(pk=card.pk), title="estar", body="to be")
    assert Content.objects.get(pk=card.pk).title == "ser"


def test_bulk_writes_and_admin_saves_keep_the_hash_right(owner):
    created = Content.objects.bulk_create([Content(owner=owner, title="a", body="1")])[0]
    assert Content.objects.get(pk=created.pk).content_hash == content_hash("a", "1")
    Content.objects.filter(pk=created.pk).update(title="b")
    assert Content.objects.get(pk=created.pk).content_hash == content_hash("b", "1")
    saved = Content.objects.get(pk=created.pk)
    saved.body = "2"
    saved.save()
    assert Content.objects.get(pk=created.pk).content_hash == content_hash("b", "2")
