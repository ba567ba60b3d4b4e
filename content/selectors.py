"""Reads of content and categories, always scoped to their owner."""

import functools
from collections.abc import Iterable

import orjson
from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404
from rest_framework.exceptions import NotFound
from rest_framework.fields import DateTimeField

from content.models import Category, Content
from utils.cache_utils import CONTENT
from utils.cache_utils.reads import CachedRead, Derivation
from utils.pagination import page_payload


def category_list_for(*, user_id: int) -> QuerySet[Category]:
    return Category.objects.filter(owner_id=user_id)


def category_get_for(*, user_id: int, category_id: int) -> Category:
    return get_object_or_404(Category, pk=category_id, owner_id=user_id)


def content_list_for(
    *, user_id: int, category_slug: str | None = None, search: str = "", ordering: str = "-created_at"
) -> QuerySet[Content]:
    contents = Content.objects.filter(owner_id=user_id).select_related("category")
    if category_slug:
        contents = contents.filter(category__slug=category_slug)
    if search:
        contents = contents.filter(Q(title__icontains=search) | Q(body__icontains=search))
    # Note: the id tie-breaker keeps pages stable when many rows share a timestamp or title.
    return contents.order_by(ordering, "-id" if ordering.startswith("-") else "id")


def content_get_for(*, user_id: int, content_id: int) -> Content:
    return get_object_or_404(Content.objects.select_related("category"), pk=content_id, owner_id=user_id)


ROW_FIELDS = ("id", "title", "body", "created_at", "updated_at", "category_id", "category__name", "category__slug")
_datetime = DateTimeField().to_representation  # DRF's own format, zone and "Z", as the serializer gives


def content_rows(rows: Iterable[dict]) -> list[dict]:
    """Cards as ContentSerializer renders them, from `.values(*ROW_FIELDS)`: a list page or the
    index of 500 cards builds no model instance and runs no serializer field per row."""
    return [
        {
            "id": row["id"],
            "title": row["title"],
            "body": row["body"],
            "category": (
                {"id": row["category_id"], "name": row["category__name"], "slug": row["category__slug"]}
                if row["category_id"] is not None
                else None
            ),
            "created_at": _datetime(row["created_at"]),
            "updated_at": _datetime(row["updated_at"]),
        }
        for row in rows
    ]


# Note: the user's whole list in one entry serves every page and category filter of the default
# ordering; past this many cards or bytes (a body may be 20,000 characters), each page has its
# own entry again.
INDEX_MAX_CARDS = 500
INDEX_MAX_BYTES = 512 * 1024
DEFAULT_ORDERING = "-created_at"


def content_page_read(*, user_id: int, query: dict, page: int, page_size: int, base_url: str) -> CachedRead:
    """One cached page of the content list: what its entry is keyed by, and how it is computed on
    a miss. `query`: the validated filter, search and ordering. A page of the default ordering,
    filtered by category or not, is taken out of the user's one index entry (all cards, up to
    INDEX_MAX_CARDS): one entry, and one miss per write, for all of them."""

    def compute():
        return page_payload(
            content_list_for(user_id=user_id, **query).values(*ROW_FIELDS),
            page=page,
            page_size=page_size,
            base_url=base_url,
            query=query,
            serialize=content_rows,
        )

    # Note: next/previous are absolute URLs, so the URL the client used is part of the key.
    params = {**query, "page": page, "page_size": page_size, "base_url": base_url}
    own = CachedRead(user_id=user_id, namespace=CONTENT, params=params, compute=compute)
    if query.get("search") or query.get("ordering", DEFAULT_ORDERING) != DEFAULT_ORDERING:
        return own
    page_of = functools.partial(_page_of, query=query, page=page, page_size=page_size, base_url=base_url)
    return own._replace(derived_from=Derivation(content_index_read(user_id=user_id), page_of))


def content_index_read(*, user_id: int) -> CachedRead:
    """The user's content index: every card in the default ordering, the pages' shared entry."""
    return CachedRead(user_id, CONTENT, {"index": True}, functools.partial(_content_index, user_id))


def _content_index(user_id: int) -> dict:
    rows = list(content_list_for(user_id=user_id).values(*ROW_FIELDS)[: INDEX_MAX_CARDS + 1])
    if len(rows) > INDEX_MAX_CARDS:
        return {"complete": False, "rows": []}
    rows = content_rows(rows)
    if len(orjson.dumps(rows)) > INDEX_MAX_BYTES:
        return {"complete": False, "rows": []}
    return {"complete": True, "rows": rows}


def _page_of(index: dict, *, query: dict, page: int, page_size: int, base_url: str) -> dict | None:
    """The page out of the index, as `content_page_read`'s own compute builds it; None when the
    index is cut, or the page is past the end (the own compute answers that 404)."""
    if not index["complete"]:
        return None
    slug = query.get("category_slug")
    rows = [row for row in index["rows"] if not slug or (row["category"] or {}).get("slug") == slug]
    try:
        return page_payload(rows, page=page, page_size=page_size, base_url=base_url, query=query, serialize=list)
    except NotFound:
        return None
