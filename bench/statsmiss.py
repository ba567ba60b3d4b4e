"""The stats miss against the size of one user's history.

Users of the same shape (100 cards in 5 categories) differ only in how long they have been
reviewing: every card once a day, so 1,000 history rows are 10 days and 50,000 are 500 days, every
day reviewed, so the streak is as long as the history (its worst case). Rows go in with
`bulk_create`, then `review.services.review_counts_rebuild` counts them as the completions would
have. The timed call is `stats_for(...)`: what a stats miss computes, without the cache around
it. Both users are deleted at the end.
"""

import random
import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.selectors import stats_for
from bench.loadgen import percentile
from content.models import Category, Content
from review.models import ReviewHistory, ReviewSchedule
from review.services import review_counts_rebuild
from utils import clock

CARDS, CATEGORIES = 100, 5
RESULTS = {ReviewHistory.REMEMBERED: 0.7, ReviewHistory.PARTIAL: 0.2, ReviewHistory.FORGOT: 0.1}


def _reviewer(rows: int, rng: random.Random):
    user = get_user_model().objects.create(username=f"statsmiss-{rows}")
    categories = Category.objects.bulk_create(
        Category(owner=user, name=f"Deck {i}", slug=f"deck-{i}") for i in range(CATEGORIES)
    )
    cards = Content.objects.bulk_create(
        Content(owner=user, category=categories[i % CATEGORIES], title=f"Card {i}", body="") for i in range(CARDS)
    )
    now = clock.now()
    history = (
        ReviewHistory(
            user=user,
            content=cards[i % CARDS],
            result=rng.choices(list(RESULTS), weights=list(RESULTS.values()))[0],
            reviewed_at=now - timedelta(days=i // CARDS, seconds=rng.randrange(3600)),
        )
        for i in range(rows)
    )
    ReviewSchedule.objects.bulk_create(
        ReviewSchedule(owner=user, content=card, next_review_date=now.date()) for card in cards
    )
    ReviewHistory.objects.bulk_create(history, batch_size=5000)
    review_counts_rebuild(user_id=user.id)
    return user


def measure(*, histories: list[int], reps: int = 30) -> dict:
    rng, today, out = random.Random(3), clock.local_today(), {}
    users = [_reviewer(rows, rng) for rows in histories]
    try:
        for rows, user in zip(histories, users, strict=True):
            with CaptureQueriesContext(connection) as queries:
                stats_for(user_id=user.id, today=today)
            samples = []
            for _ in range(reps):
                started = time.perf_counter()
                stats_for(user_id=user.id, today=today)
                samples.append(time.perf_counter() - started)
            out[str(rows)] = {
                "queries": len(queries),
                "median_ms": round(statistics.median(samples) * 1000, 3),
                "p90_ms": round(percentile(samples, 90) * 1000, 3),
            }
    finally:
        for user in users:
            user.delete()
    small, large = (out[str(rows)]["median_ms"] for rows in (min(histories), max(histories)))
    return {"stats_miss": out, "stats_miss_growth": round(large / small, 2), "stats_miss_reps": reps}
