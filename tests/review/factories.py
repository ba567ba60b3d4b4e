"""Builders shared by the review and analytics tests: a movable clock, cards, history rows and
thin wrappers around the review endpoints."""

from datetime import UTC, date, datetime, timedelta

import pytest

from content.models import Category, Content
from content.services import category_create, content_create
from review.models import ReviewHistory, ReviewSchedule
from review.services import history_record

# A fixed, ordinary moment: midday UTC, so the UTC and the local date agree unless a test says not.
NOW = datetime(2024, 5, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
LADDER = [1, 3, 7, 14, 30, 60, 120, 180]
TOP_STEP = len(LADDER) - 1


def days(n: int) -> timedelta:
    return timedelta(days=n)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


class Clock:
    """What `utils.clock.now()` answers; `clock.now = ...` or `clock.advance(days=3)` moves it."""

    def __init__(self, moment: datetime):
        self.now = moment

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def today(self) -> date:
        from utils.clock import local_date

        return local_date(self.now)


@pytest.fixture(autouse=True)
def clock(monkeypatch) -> Clock:
    """Every review/analytics test runs at NOW unless it moves the clock."""
    frozen = Clock(NOW)
    monkeypatch.setattr("utils.clock.now", lambda: frozen.now)
    return frozen


def _user_id(who) -> int:
    """Accept a user, or a logged-in test client (which carries `.user`)."""
    return getattr(who, "user", who).id


def make_category(who, name: str, slug: str | None = None) -> Category:
    return category_create(owner_id=_user_id(who), name=name, slug=slug)


def make_card(
    who,
    title: str = "Card",
    *,
    category: Category | None = None,
    due: date | None = None,
    step: int | None = None,
    initial: bool | None = None,
    active: bool | None = None,
) -> Content:
    """Content created the way the API creates it (with its schedule), then, if asked, its
    schedule moved to the given state."""
    content = content_create(owner_id=_user_id(who), title=title, category_id=category.id if category else None)
    changes = {
        "next_review_date": due,
        "interval_step": step,
        "initial_review_completed": initial,
        "is_active": active,
    }
    changes = {field: value for field, value in changes.items() if value is not None}
    if changes:
        ReviewSchedule.objects.filter(content=content).update(**changes)
    return content


def schedule_of(content: Content) -> ReviewSchedule:
    return ReviewSchedule.objects.get(content=content)


def make_history(who, content: Content, result: str = "remembered", *, at: datetime = NOW, seconds=None):
    """A review made at `at`, recorded as a completion records it (history and tallies)."""
    return history_record(
        user_id=_user_id(who), content_id=content.id, result=result, time_spent_seconds=seconds, reviewed_at=at
    )


def history_of(who) -> list[ReviewHistory]:
    return list(ReviewHistory.objects.filter(user_id=_user_id(who)).order_by("id"))


def complete(client, content, result: str = "remembered", **extra):
    content_id = content.id if isinstance(content, Content) else content
    return client.post("/api/review/complete/", {"content_id": content_id, "result": result, **extra})


def today_list(client, **params):
    return client.get("/api/review/today/", params)


def due_content_ids(client, **params) -> list[int]:
    response = today_list(client, **params)
    assert response.status_code == 200, response.content
    return [item["content_id"] for item in response.json()["results"]]


DEFAULT_TIMEOUT = 10  # seconds: the bound on any wait in the threaded tests
