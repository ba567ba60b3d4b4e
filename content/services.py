"""Writes of content and categories. Creating content also creates its review schedule."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from rest_framework.exceptions import ValidationError

from content.models import Category, Content
from review.services import schedule_create_for


def _slug_for(name: str, slug: str | None) -> str:
    derived = slug or slugify(name, allow_unicode=True)[:100]
    if not derived:
        raise ValidationError({"slug": ["Could not derive a slug from the name; please provide one."]})
    return derived


def _save_category(category: Category) -> Category:
    try:
        with transaction.atomic():
            category.save()
    except IntegrityError:
        raise ValidationError({"slug": [f"You already have a category with the slug {category.slug!r}."]}) from None
    return category


def category_create(*, owner_id: int, name: str, slug: str | None = None) -> Category:
    return _save_category(Category(owner_id=owner_id, name=name, slug=_slug_for(name, slug)))


def category_update(*, category: Category, name: str | None = None, slug: str | None = None) -> Category:
    """Renaming keeps the slug: clients filter by it, so it changes only when asked to."""
    if name is not None:
        category.name = name
    if slug is not None:
        category.slug = slug
    return _save_category(category)


def category_delete(*, category: Category) -> None:
    category.delete()


def _owned_category_id(owner_id: int, category_id: int | None) -> int | None:
    if category_id is not None and not Category.objects.filter(pk=category_id, owner_id=owner_id).exists():
        raise ValidationError({"category_id": ["No such category."]})
    return category_id


@transaction.atomic
def content_create(*, owner_id: int, title: str, body: str = "", category_id: int | None = None) -> Content:
    content = Content.objects.create(
        owner_id=owner_id, title=title, body=body, category_id=_owned_category_id(owner_id, category_id)
    )
    schedule_create_for(content=content)
    return content


_UNSET = object()


def content_update(
    *, content: Content, title: str | None = None, body: str | None = None, category_id=_UNSET
) -> Content:
    if title is not None:
        content.title = title
    if body is not None:
        content.body = body
    if category_id is not _UNSET:
        content.category_id = _owned_category_id(content.owner_id, category_id)
    content.save()
    return content


def content_delete(*, content: Content) -> None:
    content.delete()
