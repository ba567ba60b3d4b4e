"""Writes of content and categories. Creating content also creates its review schedule. Each write
says what it changes (utils.cache_utils.policy: the answers it makes stale follow from the table)."""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from rest_framework.exceptions import ValidationError

from content.models import Category, Content, content_hash
from review.services import schedule_create_for
from utils.cache_utils.policy import CREATED, DELETED, invalidates


def _slug_for(name: str, slug: str | None) -> str:
    derived = slug or slugify(name, allow_unicode=True)[:100]
    if not derived:
        raise ValidationError({"slug": ["Could not derive a slug from the name; please provide one."]})
    return derived


def _save_category(category: Category, *, change: list[str]) -> Category:
    try:
        with invalidates(Category, owner_id=category.owner_id, change=change, reason="category"), transaction.atomic():
            category.save(update_fields=None if change == [CREATED] else change)
    except IntegrityError:
        raise ValidationError({"slug": [f"You already have a category with the slug {category.slug!r}."]}) from None
    return category


def category_create(*, owner_id: int, name: str, slug: str | None = None) -> Category:
    return _save_category(Category(owner_id=owner_id, name=name, slug=_slug_for(name, slug)), change=[CREATED])


def category_update(*, category: Category, name: str | None = None, slug: str | None = None) -> Category:
    """Renaming keeps the slug: clients filter by it, so it changes only when asked to."""
    changed = {"name": name, "slug": slug}
    for field, value in changed.items():
        if value is not None:
            setattr(category, field, value)
    return _save_category(category, change=[field for field, value in changed.items() if value is not None])


def category_delete(*, category: Category) -> None:
    with invalidates(Category, owner_id=category.owner_id, change=[DELETED], reason="category"):
        category.delete()


def _owned_category_id(owner_id: int, category_id: int | None) -> int | None:
    if category_id is not None and not Category.objects.filter(pk=category_id, owner_id=owner_id).exists():
        raise ValidationError({"category_id": ["No such category."]})
    return category_id


@contextmanager
def _one_per_owner() -> Iterator[None]:
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        raise ValidationError({"title": ["You already have a card with this title and body."]}) from None


@transaction.atomic
def content_create(*, owner_id: int, title: str, body: str = "", category_id: int | None = None) -> Content:
    category_id = _owned_category_id(owner_id, category_id)
    with invalidates(Content, owner_id=owner_id, change=[CREATED], reason="content"):
        with _one_per_owner():
            content = Content.objects.create(owner_id=owner_id, title=title, body=body, category_id=category_id)
        schedule_create_for(content=content)
    return content


_UNSET = object()


def content_update(
    *, content: Content, title: str | None = None, body: str | None = None, category_id=_UNSET
) -> Content:
    values = {"title": title, "body": body}
    changed = [field for field, value in values.items() if value is not None]
    for field in changed:
        setattr(content, field, values[field])
    if changed:
        content.content_hash = content_hash(content.title, content.body)
        changed.append("content_hash")
    if category_id is not _UNSET:
        content.category_id = _owned_category_id(content.owner_id, category_id)
        changed.append("category")
    changed.append("updated_at")
    with invalidates(Content, owner_id=content.owner_id, change=changed, reason="content"), _one_per_owner():
        content.save(update_fields=changed)
    return content


def content_delete(*, content: Content) -> None:
    """Its schedule and history go with it (the policy's DELETED row counts them in)."""
    with invalidates(Content, owner_id=content.owner_id, change=[DELETED], reason="content"):
        content.delete()
