"""Recount every user's review counts (per card, per day) from the history: after a bulk load of
history rows, or after changing TIME_ZONE (a day is fixed when a review is counted)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from review.services import review_counts_rebuild


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--user", type=int, action="append", dest="users", help="only this user id (repeatable)")

    def handle(self, *args, users: list[int] | None, **options):
        ids = users or get_user_model().objects.order_by("id").values_list("id", flat=True)
        count = 0
        for user_id in ids:
            review_counts_rebuild(user_id=user_id)
            count += 1
        self.stdout.write(f"review_counts_rebuild: {count} user(s) recounted.")
