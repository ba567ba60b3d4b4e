"""/api/content/categories/: per-owner categories with a slug derived from the name."""

import pytest

from content.models import Category, Content
from tests.helpers import (
    CATEGORIES,
    assert_rejected,
    category_url,
    content_url,
    create_category,
    create_content,
)


def test_creating_a_category_returns_its_id_name_and_slug(alice):
    response = alice.post(CATEGORIES, {"name": "Verbs", "slug": "verbs-1"})
    assert response.status_code == 201
    body = response.json()
    assert body == {"id": body["id"], "name": "Verbs", "slug": "verbs-1"}
    stored = Category.objects.get(pk=body["id"])
    assert (stored.owner_id, stored.name, stored.slug) == (alice.user.id, "Verbs", "verbs-1")


@pytest.mark.parametrize(
    "name, slug",
    [
        ("Español Verbs", "español-verbs"),
        ("Hello World", "hello-world"),
        ("  Spaced   Repetition 101 ", "spaced-repetition-101"),
        ("日本語 メモ", "日本語-メモ"),
    ],
)
def test_the_slug_is_derived_from_the_name_when_not_given(alice, name, slug):
    assert create_category(alice, name)["slug"] == slug


def test_a_derived_slug_longer_than_100_characters_is_cut_to_100(alice):
    # "㎞" is one character that normalises to "km", so a 100-character name has a 200-character slug.
    category = create_category(alice, "㎞" * 100)
    assert category["slug"] == "km" * 50


@pytest.mark.parametrize("name", ["!!!", "%%%", "---", "•••"])
def test_a_name_with_nothing_sluggable_and_no_slug_is_rejected_on_slug(alice, name):
    assert_rejected(alice.post(CATEGORIES, {"name": name}), "slug")
    assert not Category.objects.exists()


def test_a_name_with_nothing_sluggable_is_fine_when_a_slug_is_given(alice):
    category = create_category(alice, "!!!", slug="bangs")
    assert (category["name"], category["slug"]) == ("!!!", "bangs")


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "ok", "slug": "a b"}, "slug"),
        ({"name": "ok", "slug": "*"}, "slug"),
        ({"name": "ok", "slug": "a/b"}, "slug"),
        ({"name": "ok", "slug": ""}, "slug"),
        ({"name": "ok", "slug": "s" * 101}, "slug"),
    ],
)
def test_invalid_category_input_is_rejected_on_its_field(alice, payload, field):
    assert_rejected(alice.post(CATEGORIES, payload), field)
    assert not Category.objects.exists()


@pytest.mark.parametrize(
    "first, second",
    [
        ({"name": "Verbs"}, {"name": "Other", "slug": "verbs"}),
        ({"name": "Verbs"}, {"name": "verbs"}),  # both derive "verbs"
        ({"name": "A", "slug": "same"}, {"name": "B", "slug": "same"}),
    ],
)
def test_a_duplicate_slug_for_the_same_owner_is_a_400_on_slug(alice, first, second):
    create_category(alice, **first)
    assert_rejected(alice.post(CATEGORIES, second), "slug")
    assert Category.objects.filter(owner_id=alice.user.id).count() == 1


def test_two_users_may_use_the_same_slug(alice, bob):
    mine, theirs = create_category(alice, "Verbs"), create_category(bob, "Verbs")
    assert mine["slug"] == theirs["slug"] == "verbs"
    assert mine["id"] != theirs["id"]


def test_the_list_is_a_plain_json_list_of_my_categories_ordered_by_name(alice, bob):
    for name in ["cherry", "apple", "banana"]:
        create_category(alice, name)
    create_category(bob, "aardvark")
    response = alice.get(CATEGORIES)
    assert response.status_code == 200
    body = response.json()
    assert isinstance(body, list)
    assert [c["name"] for c in body] == ["apple", "banana", "cherry"]
    assert all(set(c) == {"id", "name", "slug"} for c in body)


def test_the_list_is_not_paginated_even_past_the_default_page_size(alice):
    Category.objects.bulk_create(Category(owner_id=alice.user.id, name=f"c{i:03}", slug=f"c{i:03}") for i in range(25))
    assert len(alice.get(CATEGORIES).json()) == 25
    assert alice.get(CATEGORIES, {"page_size": 5}).json() == {"page_size": ["Unknown query parameter."]}


def test_a_user_with_no_categories_gets_an_empty_list(alice, bob):
    create_category(bob, "Bob only")
    assert alice.get(CATEGORIES).json() == []


def test_getting_my_category_returns_it(alice):
    category = create_category(alice, "Verbs")
    response = alice.get(category_url(category["id"]))
    assert response.status_code == 200
    assert response.json() == category


@pytest.mark.parametrize("method", ["patch", "put"])
def test_renaming_keeps_the_slug(alice, method):
    category = create_category(alice, "Verbs")
    response = getattr(alice, method)(category_url(category["id"]), {"name": "Irregular Verbs"})
    assert response.status_code == 200
    assert response.json() == {"id": category["id"], "name": "Irregular Verbs", "slug": "verbs"}
    assert Category.objects.get(pk=category["id"]).slug == "verbs"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_sending_a_slug_changes_it(alice, method):
    category = create_category(alice, "Verbs")
    response = getattr(alice, method)(category_url(category["id"]), {"name": "Verbs", "slug": "verbos"})
    assert response.status_code == 200
    assert response.json()["slug"] == "verbos"
    assert Category.objects.get(pk=category["id"]).slug == "verbos"


def test_patch_may_change_only_the_slug(alice):
    category = create_category(alice, "Verbs")
    response = alice.patch(category_url(category["id"]), {"slug": "v"})
    assert response.json() == {"id": category["id"], "name": "Verbs", "slug": "v"}


def test_put_requires_a_name(alice):
    category = create_category(alice, "Verbs")
    assert_rejected(alice.put(category_url(category["id"]), {"slug": "other"}), "name")
    assert Category.objects.get(pk=category["id"]).slug == "verbs"


@pytest.mark.parametrize("method", ["patch", "put"])
def test_changing_to_a_slug_i_already_use_is_a_400_and_changes_nothing(alice, method):
    create_category(alice, "Nouns")
    category = create_category(alice, "Verbs")
    response = getattr(alice, method)(category_url(category["id"]), {"name": "Renamed", "slug": "nouns"})
    assert_rejected(response, "slug")
    stored = Category.objects.get(pk=category["id"])
    assert (stored.name, stored.slug) == ("Verbs", "verbs")


def test_changing_to_a_slug_another_user_uses_is_fine(alice, bob):
    create_category(bob, "Nouns")
    category = create_category(alice, "Verbs")
    assert alice.patch(category_url(category["id"]), {"slug": "nouns"}).json()["slug"] == "nouns"


@pytest.mark.parametrize(
    "method, payload",
    [
        ("get", None),
        ("put", {"name": "Hijacked", "slug": "hijacked"}),
        ("patch", {"name": "Hijacked"}),
        ("delete", None),
    ],
)
def test_another_users_category_is_not_found_and_stays_unchanged(alice, bob, method, payload):
    category = create_category(bob, "Bob's", slug="bobs")
    response = getattr(alice, method)(category_url(category["id"]), payload)
    assert response.status_code == 404
    assert "detail" in response.json()
    stored = Category.objects.get(pk=category["id"])
    assert (stored.owner_id, stored.name, stored.slug) == (bob.user.id, "Bob's", "bobs")


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_a_missing_category_is_a_json_404(alice, method):
    response = getattr(alice, method)(category_url(999_999), {"name": "x"})
    assert response.status_code == 404
    assert "detail" in response.json()


def test_deleting_a_category_is_204_and_it_is_gone(alice):
    category = create_category(alice, "Verbs")
    response = alice.delete(category_url(category["id"]))
    assert response.status_code == 204
    assert alice.get(category_url(category["id"])).status_code == 404
    assert alice.get(CATEGORIES).json() == []


def test_deleting_a_category_keeps_its_contents_without_a_category(alice):
    category = create_category(alice, "Verbs")
    card = create_content(alice, "ser", category_id=category["id"])
    assert alice.delete(category_url(category["id"])).status_code == 204
    response = alice.get(content_url(card["id"]))
    assert response.status_code == 200
    assert response.json()["category"] is None
    assert Content.objects.get(pk=card["id"]).category_id is None


def test_the_slug_of_a_deleted_category_can_be_used_again(alice):
    category = create_category(alice, "Verbs")
    alice.delete(category_url(category["id"]))
    assert create_category(alice, "Verbs")["slug"] == "verbs"
