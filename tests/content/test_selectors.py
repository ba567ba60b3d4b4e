"""content.selectors: the list's rows are built from `.values()`, and must be what the detail
endpoint's ContentSerializer renders, byte for byte, in any time zone."""

import pytest
from django.test import override_settings

from content.models import Content
from content.selectors import ROW_FIELDS, content_list_for, content_rows
from content.serializers import ContentSerializer
from content.services import category_create, content_create


@pytest.mark.parametrize("time_zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_list_rows_are_what_the_serializer_renders(make_user, time_zone):
    user = make_user("carol")
    deck = category_create(owner_id=user.id, name="Vocabulário", slug="vocab")
    content_create(owner_id=user.id, title="in a deck", body="body\nwith lines", category_id=deck.id)
    content_create(owner_id=user.id, title="loose", body="")

    with override_settings(TIME_ZONE=time_zone):
        rows = content_rows(content_list_for(user_id=user.id).values(*ROW_FIELDS))
        rendered = ContentSerializer(content_list_for(user_id=user.id), many=True).data

    assert rows == rendered
    assert [row["category"] is None for row in rows] == [True, False]
    assert Content.objects.filter(owner=user).count() == 2
