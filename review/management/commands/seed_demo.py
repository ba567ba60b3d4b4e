"""Demo and benchmark data: users with categorised content, schedules (part due today) and
review history, written with bulk inserts.

    manage.py seed_demo                      # user demo / demo-pass-123, 100 cards, 60 days
    manage.py seed_demo --users 500 --contents 100   # benchmark data set (users bench-00001...)

The benchmark users live in time zones around the world (UTC+14 to UTC-11), each day starting at
an hour of its own, with the daily limits on (a fifth of them tighter than the defaults): the
cached answers end at many rollovers and the limits hold some due cards back, as in production.
Every other one learns with FSRS: its history replayed as a switch does, then a few cards
forgotten in the last quarter hour (through review_complete), so they are on relearning steps.

Re-running is safe: users that already exist are left as they are.
"""

import random
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from tqdm import tqdm

from accounts.models import Learner
from content.models import Category, Content
from review.models import ReviewHistory, ReviewSchedule, State
from review.services import review_complete, review_counts_rebuild, schedules_reschedule
from utils import clock
from utils.conf import review_intervals

User = get_user_model()

DEMO_USERNAME, DEMO_PASSWORD = "demo", "demo-pass-123"
CATEGORY_NAMES = ["Vocabulary", "Grammar", "History", "Biology", "Programming"]
HISTORY_DAYS = 60
ZONES = [
    "Pacific/Kiritimati",
    "Asia/Seoul",
    "Asia/Kolkata",
    "Europe/Berlin",
    "UTC",
    "America/Sao_Paulo",
    "America/New_York",
    "Pacific/Pago_Pago",
]
DAY_START_HOURS = [4, 0, 2, 6]
RESULT_WEIGHTS = {ReviewHistory.REMEMBERED: 6, ReviewHistory.PARTIAL: 2, ReviewHistory.FORGOT: 1}
FORGOTTEN_RECENTLY = 5  # cards per FSRS learner answered `again` minutes before the seed


class Command(BaseCommand):
    help = "Create demo data (or, with --users, a benchmark data set)."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=0, help="benchmark users to create (0: the demo user)")
        parser.add_argument("--contents", type=int, default=100, help="contents per user")
        parser.add_argument("--seed", type=int, default=42, help="random seed, for reproducible data")

    def handle(self, *args, users: int, contents: int, seed: int, **options):
        rng = random.Random(seed)
        if users:
            names = [f"bench-{i:05d}" for i in range(1, users + 1)]
        else:
            names = [DEMO_USERNAME]
        password = make_password(DEMO_PASSWORD)  # hashed once: PBKDF2 per user would dominate
        created = 0
        for number, name in enumerate(tqdm(names, desc="users", unit="user", disable=len(names) < 2)):
            if User.objects.filter(username=name).exists():
                continue
            with transaction.atomic():
                user = User.objects.create(username=name, password=password)
                learner = _learner(user, number=number) if users else Learner(user=user)
                _seed_user(user, learner, contents=contents, rng=rng)
                if learner.scheduler == Learner.FSRS:
                    _seed_steps(user, rng=rng)
            created += 1
            if created & (created - 1) == 0:  # 1, 2, 4, 8...: the statistics keep pace at O(log n) ANALYZEs
                _analyze()
        self.stdout.write(f"seed_demo: {created} user(s) created, {len(names) - created} already present.")


def _analyze() -> None:
    """Fresh planner statistics, on PostgreSQL.
    # Note: each learner's counts are rebuilt from the history card by card; on statistics taken
    # while the tables were nearly empty, the planner scanned the whole history for every card, and
    # each learner seeded slower than the last (hundreds of learners took a quarter of an hour)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _learner(user, *, number: int) -> Learner:
    tight = number % 5 == 4
    return Learner.objects.create(
        user=user,
        time_zone=ZONES[number % len(ZONES)],
        day_starts_at_hour=DAY_START_HOURS[number // len(ZONES) % len(DAY_START_HOURS)],
        new_cards_per_day=10 if tight else 20,
        reviews_per_day=30 if tight else 200,
        scheduler=Learner.FSRS if number % 2 else Learner.LADDER,
    )


def _seed_user(user, learner: Learner, *, contents: int, rng: random.Random) -> None:
    categories = Category.objects.bulk_create(
        Category(owner=user, name=name, slug=name.lower()) for name in CATEGORY_NAMES
    )
    # Note: every tenth card is left uncategorised, as real users do.
    picks = [categories[i % len(categories)] if i % 10 else None for i in range(contents)]
    cards = Content.objects.bulk_create(
        Content(
            owner=user,
            category=category,
            title=f"{category.name if category else 'Loose'} card {i + 1}",
            body=f"Question {i + 1} and its answer, to be recalled in spaced intervals.",
        )
        for i, category in enumerate(picks)
    )
    now, ladder = clock.now(), review_intervals()
    today = learner.day_of(now)
    schedules, history = [], []
    for card in cards:
        step = rng.randrange(len(ladder))
        # Note: about half the cards are due (some overdue), the rest spread over the next month.
        offset = rng.randint(-3, 0) if rng.random() < 0.5 else rng.randint(1, 30)
        schedules.append(
            ReviewSchedule(
                owner=user,
                content=card,
                interval_step=step,
                next_review_date=today + timedelta(days=offset),
                initial_review_completed=True,
                state=State.REVIEW,
            )
        )
        for _ in range(rng.randint(1, 8)):
            history.append(
                ReviewHistory(
                    user=user,
                    content=card,
                    result=rng.choices(list(RESULT_WEIGHTS), weights=list(RESULT_WEIGHTS.values()))[0],
                    time_spent_seconds=rng.randint(3, 120),
                    reviewed_at=now - timedelta(days=rng.randrange(HISTORY_DAYS), seconds=rng.randrange(86400)),
                )
            )
    ReviewSchedule.objects.bulk_create(schedules, batch_size=1000)
    ReviewHistory.objects.bulk_create(history, batch_size=1000)
    review_counts_rebuild(user_id=user.id)  # bulk_create counts nothing


def _seed_steps(user, *, rng: random.Random) -> None:
    """The history replayed into FSRS's state, then a few cards forgotten 1-15 minutes ago: their
    relearning step (10 minutes) has passed for some and is still to come for others."""
    schedules_reschedule(user_id=user.id)
    now = clock.now()
    # Note: an answer must come after the card's last review; seeded history can be minutes old.
    settled = ReviewSchedule.objects.filter(owner=user, last_review_at__lt=now - timedelta(minutes=20))
    cards = sorted(settled.values_list("content_id", flat=True))
    for content_id in rng.sample(cards, min(FORGOTTEN_RECENTLY, len(cards))):
        moment = now - timedelta(minutes=rng.randint(1, 15))
        review_complete(user_id=user.id, content_id=content_id, result="again", time_spent_seconds=20, now=moment)
