"""GET /api/content/: strict paging, category filter, search and ordering, only ever my content."""

from datetime import UTC, datetime, timedelta

import pytest

from content.models import Category, Content
from tests.helpers import (
    CONTENTS,
    assert_rejected,
    create_category,
    create_content,
    list_contents,
    listed_titles,
)

T0 = datetime(2020, 1, 1, 12, 0, tzinfo=UTC)


def make_cards(client, count: int, *, category: Category | None = None, prefix: str = "card") -> list[Content]:
    """`count` cards straight in the database (no schedules), created one minute apart from T0,
    so card i is older than card i+1."""
    cards = Content.objects.bulk_create(
        Content(owner_id=client.user.id, title=f"{prefix} {i:03}", category=category) for i in range(count)
    )
    for i, card in enumerate(cards):
        card.created_at = card.updated_at = T0 + timedelta(minutes=i)
    Content.objects.bulk_update(cards, ["created_at", "updated_at"])  # bypasses auto_now
    return cards


def create_category_row(client, slug: str) -> Category:
    return Category.objects.create(owner_id=client.user.id, name=slug.title(), slug=slug)


def set_times(title: str, *, created_minute: int, updated_minute: int) -> None:
    Content.objects.filter(title=title).update(
        created_at=T0 + timedelta(minutes=created_minute), updated_at=T0 + timedelta(minutes=updated_minute)
    )


# --- Envelope and paging -------------------------------------------------------------------------


def test_an_empty_list_is_a_200_page_with_no_results(alice):
    response = list_contents(alice)
    assert response.status_code == 200
    assert response.json() == {
        "count": 0,
        "total_pages": 1,
        "page": 1,
        "page_size": 20,
        "next": None,
        "previous": None,
        "results": [],
    }


def test_results_have_the_same_shape_as_a_single_card(alice):
    category = create_category(alice, "Verbs")
    card = create_content(alice, "ser", body="to be", category_id=category["id"])
    assert list_contents(alice).json()["results"] == [card]


def test_the_default_page_size_is_20(alice):
    make_cards(alice, 25)
    first = list_contents(alice).json()
    assert first["count"] == 25
    assert len(first["results"]) == 20
    assert first["previous"] is None
    assert "page=2" in first["next"]
    second = list_contents(alice, page=2).json()
    assert len(second["results"]) == 5
    assert second["next"] is None
    assert second["previous"] is not None


def test_page_size_sets_the_page_length_and_is_kept_in_the_next_link(alice):
    make_cards(alice, 7)
    body = list_contents(alice, page_size=3, page=2).json()
    assert [r["title"] for r in body["results"]] == ["card 003", "card 002", "card 001"]
    assert "page=3" in body["next"] and "page_size=3" in body["next"]
    assert (body["count"], body["total_pages"], body["page"], body["page_size"]) == (7, 3, 2, 3)


@pytest.mark.parametrize("page_size", ["101", "999999999"])
def test_a_page_size_over_100_is_capped_at_100_not_rejected(alice, page_size):
    make_cards(alice, 101)
    response = list_contents(alice, page_size=page_size)
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], len(body["results"])) == (101, 100)
    assert [r["title"] for r in body["results"]][-1] == "card 001"
    assert "page=2" in body["next"]


def test_empty_parameters_mean_their_defaults(alice):
    cards = make_cards(alice, 3)
    Content.objects.filter(pk=cards[0].pk).update(category=create_category_row(alice, "verbs"))
    response = list_contents(alice, page="", page_size="", category_slug="", search="", ordering="")
    assert response.status_code == 200
    assert [r["title"] for r in response.json()["results"]] == ["card 002", "card 001", "card 000"]


BAD_NUMBERS = [
    "abc",
    "-1",
    "0",
    "00",
    "1.5",
    "1e3",
    " 1",
    "+1",
    str(10**12),
    # Unicode digits that str.isdigit() accepts but int() rejects.
    pytest.param("²", id="superscript-two"),
    pytest.param("①", id="circled-one"),
    # More digits than int() converts by default (sys.get_int_max_str_digits() is 4300).
    pytest.param("9" * 4400, id="4400-digits"),
]


@pytest.mark.parametrize("param", ["page", "page_size"])
@pytest.mark.parametrize("raw", BAD_NUMBERS)
def test_a_page_or_page_size_that_is_not_a_positive_integer_is_a_400_naming_it(alice, param, raw):
    make_cards(alice, 1)
    alice.raise_request_exception = False
    assert_rejected(list_contents(alice, **{param: raw}), param)


@pytest.mark.parametrize("page", ["2", "3", "999999999"])
def test_a_page_past_the_end_is_a_json_404(alice, page):
    make_cards(alice, 3)
    response = list_contents(alice, page=page, page_size=3)
    assert response.status_code == 404
    assert "detail" in response.json()


def test_pages_are_stable_when_many_cards_share_a_timestamp(alice):
    cards = make_cards(alice, 7)
    Content.objects.update(created_at=T0, updated_at=T0)
    for ordering, expected in [
        ("-created_at", sorted((c.pk for c in cards), reverse=True)),
        ("created_at", sorted(c.pk for c in cards)),
        ("-updated_at", sorted((c.pk for c in cards), reverse=True)),
    ]:
        seen = []
        for page in (1, 2, 3):
            seen += [r["id"] for r in list_contents(alice, page=page, page_size=3, ordering=ordering).json()["results"]]
        assert seen == expected, ordering


# --- Ownership -----------------------------------------------------------------------------------


def test_only_my_content_is_listed(alice, bob):
    create_content(alice, "mine")
    create_content(bob, "theirs")
    body = list_contents(alice).json()
    assert body["count"] == 1
    assert [r["title"] for r in body["results"]] == ["mine"]


def test_other_users_content_never_leaks_through_filters(alice, bob):
    bobs = create_category(bob, "Verbs")
    create_content(bob, "secret verb", body="secret", category_id=bobs["id"])
    create_content(alice, "public")
    assert listed_titles(alice, category_slug="verbs") == []
    assert listed_titles(alice, search="secret") == []
    assert listed_titles(alice, ordering="title") == ["public"]


# --- Category filter -----------------------------------------------------------------------------


def test_category_slug_keeps_only_that_categorys_content(alice):
    verbs, nouns = create_category(alice, "Verbs"), create_category(alice, "Nouns")
    create_content(alice, "ser", category_id=verbs["id"])
    create_content(alice, "casa", category_id=nouns["id"])
    create_content(alice, "loose")
    assert listed_titles(alice, category_slug="verbs") == ["ser"]
    assert list_contents(alice, category_slug="verbs").json()["count"] == 1


def test_category_slug_matches_a_unicode_slug(alice):
    category = create_category(alice, "Español Verbs")
    create_content(alice, "ser", category_id=category["id"])
    create_content(alice, "other")
    assert listed_titles(alice, category_slug="español-verbs") == ["ser"]


def test_an_unknown_category_slug_gives_empty_results(alice):
    create_content(alice, "ser")
    response = list_contents(alice, category_slug="no-such-category")
    assert response.status_code == 200
    assert response.json()["count"] == 0
    assert response.json()["results"] == []


@pytest.mark.parametrize("slug", ["a b", "*", "a/b", "%", "verbs!", "s" * 101])
def test_an_invalid_category_slug_is_a_400(alice, slug):
    assert_rejected(list_contents(alice, category_slug=slug), "category_slug")


# --- Search --------------------------------------------------------------------------------------


@pytest.fixture
def searchable(alice):
    create_content(alice, "Irregular Verbs", body="ser and estar")
    create_content(alice, "Nouns", body="la CASA, el PERRO")
    create_content(alice, "Numbers", body="100% sure, snake_case")


@pytest.mark.parametrize(
    "search, titles",
    [
        ("verbs", ["Irregular Verbs"]),
        ("IRREGULAR", ["Irregular Verbs"]),
        ("EsTaR", ["Irregular Verbs"]),
        ("casa", ["Nouns"]),
        ("n", ["Numbers", "Nouns", "Irregular Verbs"]),
        ("zebra", []),
    ],
)
def test_search_is_case_insensitive_over_title_and_body(alice, searchable, search, titles):
    assert listed_titles(alice, search=search) == titles


@pytest.mark.parametrize("search, titles", [("%", ["Numbers"]), ("_", ["Numbers"]), ("0%", ["Numbers"])])
def test_search_treats_like_wildcards_literally(alice, searchable, search, titles):
    assert listed_titles(alice, search=search) == titles


def test_an_empty_search_lists_everything(alice, searchable):
    assert len(listed_titles(alice, search="")) == 3


def test_a_search_of_200_characters_is_accepted(alice, searchable):
    assert listed_titles(alice, search="s" * 200) == []


@pytest.mark.parametrize("search", ["s" * 201, "ser\x00", "\x00"], ids=["201 chars", "trailing NUL", "only NUL"])
def test_a_too_long_or_nul_search_is_a_400(alice, searchable, search):
    assert_rejected(list_contents(alice, search=search), "search")


@pytest.mark.integration
def test_search_folds_case_beyond_ascii(alice):
    # SQLite's LIKE folds ASCII only, so this holds on PostgreSQL (the production database).
    create_content(alice, "Ñandú", body="ÉCOLE")
    assert listed_titles(alice, search="ñandÚ") == ["Ñandú"]
    assert listed_titles(alice, search="école") == ["Ñandú"]


def test_search_combines_with_the_category_filter(alice):
    verbs = create_category(alice, "Verbs")
    create_content(alice, "ser", body="to be", category_id=verbs["id"])
    create_content(alice, "tener", body="to have", category_id=verbs["id"])
    create_content(alice, "to be or not", body="loose")
    assert listed_titles(alice, category_slug="verbs", search="TO BE") == ["ser"]


# --- Ordering ------------------------------------------------------------------------------------


@pytest.fixture
def ordered(alice):
    """Three cards whose created, updated and title orders all differ."""
    for title, created, updated in [("banana", 0, 5), ("cherry", 1, 3), ("apple", 2, 4)]:
        create_content(alice, title)
        set_times(title, created_minute=created, updated_minute=updated)


@pytest.mark.parametrize(
    "ordering, titles",
    [
        (None, ["apple", "cherry", "banana"]),
        ("-created_at", ["apple", "cherry", "banana"]),
        ("created_at", ["banana", "cherry", "apple"]),
        ("-updated_at", ["banana", "apple", "cherry"]),
        ("updated_at", ["cherry", "apple", "banana"]),
        ("title", ["apple", "banana", "cherry"]),
        ("-title", ["cherry", "banana", "apple"]),
    ],
)
def test_ordering_sorts_by_the_requested_field(alice, ordered, ordering, titles):
    params = {} if ordering is None else {"ordering": ordering}
    assert listed_titles(alice, **params) == titles


def test_updating_a_card_moves_it_to_the_top_of_newest_updated_first(alice, ordered):
    cherry = Content.objects.get(title="cherry")
    assert alice.patch(f"{CONTENTS}{cherry.pk}/", {"body": "edited"}).status_code == 200
    assert listed_titles(alice, ordering="-updated_at")[0] == "cherry"


@pytest.mark.parametrize("ordering", ["name", "id", "-id", "body", "owner", "TITLE", "title,-created_at", "?"])
def test_an_unknown_ordering_is_a_400(alice, ordering):
    assert_rejected(list_contents(alice, ordering=ordering), "ordering")
