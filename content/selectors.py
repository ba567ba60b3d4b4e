"""Reads of content and categories, always scoped to their owner."""

from django.db.models import Q, QuerySet
from django.shortcuts import get_object_or_404

from content.models import Category, Content


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
