"""Reads of decks: the owner's cards as exports write them."""

from collections.abc import Iterator

from content.models import Content


def export_cards(*, owner_id: int) -> Iterator[tuple[str, str, str | None]]:
    """(title, body, category name) of every card, oldest first, fetched in chunks."""
    rows = Content.objects.filter(owner_id=owner_id).order_by("id").values_list("title", "body", "category__name")
    return rows.iterator(chunk_size=2000)
