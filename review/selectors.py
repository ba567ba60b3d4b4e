"""Reads of schedules and history; `today_reviews_for` builds the payload of the hot endpoint.

A card is due in two ways. On its learning or relearning steps (FSRS: a new or forgotten card
comes back after minutes) it is due at a moment, `due_at`, and shown once that moment has passed;
any other card is due on a day, `next_review_date`, and shown from the learner's day it falls on
(overdue ones stay due). A cached today answer therefore ends at the first of the learner's
rollover and the next moment a stepping card comes due (`today_read`'s `until`)."""

import functools
import operator
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta

import orjson
from django.db.models import Case, Count, DateTimeField, Max, Min, Q, QuerySet, Value, When
from django.shortcuts import get_object_or_404
from rest_framework.exceptions import NotFound

from accounts.models import Learner
from accounts.selectors import LearnerDay, learner_day, learner_of
from review.models import ReviewHistory, ReviewSchedule, State
from review.scheduling import Previews
from utils import clock
from utils.cache_utils import TODAY
from utils.cache_utils.reads import CachedRead, Derivation
from utils.conf import leech_lapses
from utils.pagination import page_payload


def schedule_get_for(*, user_id: int, content_id: int, for_update: bool = False) -> ReviewSchedule:
    schedules = ReviewSchedule.objects.select_related("content")
    if for_update:
        schedules = schedules.select_for_update(of=("self",))  # the card's own row stays free for edits
    return get_object_or_404(schedules, content_id=content_id, owner_id=user_id)


def schedule_by_id_for(*, user_id: int, schedule_id: int) -> ReviewSchedule:
    return get_object_or_404(ReviewSchedule.objects.select_related("content"), pk=schedule_id, owner_id=user_id)


def schedule_list_for(*, user_id: int) -> QuerySet[ReviewSchedule]:
    return ReviewSchedule.objects.filter(owner_id=user_id).select_related("content").order_by("next_review_date", "id")


def leech_list_for(*, user_id: int) -> QuerySet[ReviewSchedule]:
    """The user's leeches (`ReviewSchedule.is_leech`), paused ones included, most lapses first.
    # Note: read uncached, with no index of its own: a screen opened now and then, over one
    # user's cards, which the owner index narrows to."""
    leeches = schedule_list_for(user_id=user_id).filter(lapses__gte=leech_lapses())
    return leeches.order_by("-lapses", "next_review_date", "id")


def history_list_for(*, user_id: int) -> QuerySet[ReviewHistory]:
    return ReviewHistory.objects.filter(user_id=user_id).select_related("content")


# Note: today's pages and category filters are cut out of one shared entry per user, which holds
# the oldest-due cards, bodies and all, within these bounds (a body may be 20,000 characters);
# a page that reaches past them has its own entry.
SHARED_MAX_CARDS = 200
SHARED_MAX_BYTES = 512 * 1024

# Note: what a preview reads of the row (review.scheduling), besides `id` and the ladder's fields.
PREVIEW_FIELDS = ("reviews", "state", "step", "stability", "difficulty", "due_at", "last_review_at")

ROW_FIELDS = (
    "id",
    "content_id",
    "content__title",
    "content__body",
    "content__category_id",
    "content__category__name",
    "content__category__slug",
    "interval_step",
    "next_review_date",
    "initial_review_completed",
    *PREVIEW_FIELDS,
)

# Cards on their learning or relearning steps: due at a moment (`due_at`), not on a day. A row in
# those states without a moment falls back to its day.
STEPPING_STATES = (State.LEARNING, State.RELEARNING)
STEPPING = Q(state__in=STEPPING_STATES, due_at__isnull=False)


def today_items(rows: Iterable[dict], *, previews: Previews) -> list[dict]:
    """Today's items from `.values(*ROW_FIELDS)`: the card as a review screen shows it (title,
    body, category), where it stands, and what each grade would do (`previews`)."""
    return [
        {
            "id": row["id"],
            "content_id": row["content_id"],
            "title": row["content__title"],
            "body": row["content__body"],
            "category": (
                {
                    "id": row["content__category_id"],
                    "name": row["content__category__name"],
                    "slug": row["content__category__slug"],
                }
                if row["content__category_id"] is not None
                else None
            ),
            "interval_step": row["interval_step"],
            "next_review_date": row["next_review_date"].isoformat(),
            "initial_review_completed": row["initial_review_completed"],
            "state": State(row["state"]).label,
            "due_at": _iso_z(row["due_at"]),
            "intervals": previews.of(_schedule_of(row)),
        }
        for row in rows
    ]


def _schedule_of(row: dict) -> ReviewSchedule:
    fields = ("id", "interval_step", "initial_review_completed", *PREVIEW_FIELDS)
    return ReviewSchedule(**{name: row[name] for name in fields})


def _iso_z(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment is not None else None


def due_at_moment(*, today: date, now: datetime, through: str = "") -> Q:
    """The cards due at `now`, on the learner's `today`: a stepping card once its moment has
    passed, any other once its day has come. `through`: the path from the model queried to the
    schedule ("schedule__" from a card).
    # Note: written as the day's range less the stepping cards still to come, which is the same
    # set (a stepping card's day is the learner's day of its moment): the hot query stays one
    # index range scan on (owner, is_active, next_review_date)."""
    to_come = {f"{through}state__in": STEPPING_STATES, f"{through}due_at__gt": now}
    return Q(**{f"{through}next_review_date__lte": today}) & ~Q(**to_come)


def _active(user_id: int) -> QuerySet[ReviewSchedule]:
    return ReviewSchedule.objects.filter(owner_id=user_id, is_active=True)


def _done_on(user_id: int, learner: Learner, today: date) -> tuple[int, int]:
    """The reviews made on the learner's day `today`, and the cards among them it introduced (first
    reviewed that day); a card introduced today and seen again counts once as new, then as reviews.
    # Note: an answer to a card on its learning or relearning steps is no review, as Anki's daily
    # counts have it: the steps of a card introduced or forgotten today use up no review room."""
    start, end = learner.bounds_of(today)
    history = ReviewHistory.objects.filter(user_id=user_id)
    seen_before = history.filter(reviewed_at__lt=start).values("content_id")
    counts = history.filter(reviewed_at__gte=start, reviewed_at__lt=end).aggregate(
        made=Count("id"),
        steps=Count("id", filter=Q(prior__state__in=STEPPING_STATES)),
        introduced=Count("content_id", distinct=True, filter=~Q(content_id__in=seen_before)),
    )
    # Note: not below zero when a card introduced today was answered on its steps only (a card
    # imported onto its steps has no first answer).
    return max(0, counts["made"] - counts["steps"] - counts["introduced"]), counts["introduced"]


def shown_today(*, user_id: int, today: date, now: datetime, learner: Learner) -> Q:
    """The cards due at `now` on the learner's `today` that the daily limits let through, as
    Anki's scheduler (v3) takes them: every stepping card whose moment has passed, never held
    back and using up no room of either limit; review cards oldest-due first up to the review
    limit less the reviews made today; new cards (never reviewed) oldest first up to the new-card
    limit less those introduced today, and none once the review limit is reached."""
    reviewed, introduced = _done_on(user_id, learner, today)
    due = _active(user_id).filter(due_at_moment(today=today, now=now))
    old, new = ~STEPPING & Q(initial_review_completed=True), ~STEPPING & Q(initial_review_completed=False)
    counts = due.aggregate(old=Count("id", filter=old), new=Count("id", filter=new))
    review_room = max(0, learner.reviews_per_day - reviewed)
    reviews = min(counts["old"], review_room)
    news = min(counts["new"], max(0, learner.new_cards_per_day - introduced), review_room - reviews)
    parts = [
        STEPPING,
        _first(due.filter(old).order_by("next_review_date", "id"), reviews, counts["old"], old),
        _first(due.filter(new).order_by("id"), news, counts["new"], new),
    ]
    return functools.reduce(operator.or_, [part for part in parts if part is not None])


def _first(cards: QuerySet, n: int, of: int, whole: Q) -> Q | None:
    """The first `n` of `of` cards: all of them (`whole`, no subquery) when none are held back."""
    if n <= 0:
        return None
    return whole if n >= of else Q(pk__in=cards.values("id")[:n])


# Note: due stepping cards come first, by their moment, as Anki shows due learning cards before
# reviews and new cards: a step answered late would drift further from its interval.
STEPPING_FIRST = Case(When(STEPPING, then="due_at"), default=Value(None), output_field=DateTimeField())


def _due_rows(
    user_id: int, today: date, now: datetime, category_slug: str | None = None, shown: Q | None = None
) -> QuerySet:
    """Active cards due at `now` on `today` (overdue ones stay due) that the limits let through:
    the due stepping cards by their moment, then the others oldest-due first."""
    due = _active(user_id).filter(due_at_moment(today=today, now=now))
    if shown is not None:
        due = due.filter(shown)
    if category_slug:
        due = due.filter(content__category__slug=category_slug)
    return due.order_by(STEPPING_FIRST.asc(nulls_last=True), "next_review_date", "id").values(*ROW_FIELDS)


def next_step_due(*, user_id: int, today: date, after: datetime) -> datetime | None:
    """The first moment after `after` that one of the user's active stepping cards comes due on
    the learner's `today` (one of a later day comes due after the rollover, which ends it anyway).
    # Note: bounded by the day as the today query is, so it is the same index range scan."""
    stepping = _active(user_id).filter(STEPPING, next_review_date__lte=today, due_at__gt=after)
    return stepping.aggregate(first=Min("due_at"))["first"]


def today_ends_at(
    *, user_id: int, day: Callable[[], LearnerDay], previews: Callable[[], Previews] | None = None
) -> float:
    """When an answer of the learner's today computed at `day().now` changes with the clock alone
    (CLOCK_EVENTS): their rollover, or before it the next moment a stepping card comes due, or a
    preview the answer holds changes."""
    moments = [day().ends_at]
    if (due := next_step_due(user_id=user_id, today=day().today, after=day().now)) is not None:
        moments.append(due.timestamp())
    if previews is not None and previews().changes_at is not None:
        moments.append(previews().changes_at.timestamp())
    return min(moments)


def _today_page(
    rows, *, count: int, total_count: int, page: int, page_size: int, base_url: str, serialize, **query
) -> dict:
    """The answer's one layout, for a page computed on its own and one cut out of the shared entry."""
    payload = page_payload(
        rows, page=page, page_size=page_size, base_url=base_url, query=query, serialize=serialize, count=count
    )
    return {**payload, "total_count": total_count}


def today_reviews_for(
    *,
    user_id: int,
    today: date,
    now: datetime | None = None,
    category_slug: str | None = None,
    page: int = 1,
    page_size: int = 20,
    base_url: str,
    learner: Learner | None = None,
    previews: Previews | None = None,
) -> dict:
    """One page of the cards the learner sees at `now` (the clock's by default) on `today`: due,
    within the daily limits; `count` is their number (within the filter), `total_count` the number
    of active cards. `previews`: what each grade would do, at `now`."""
    now = now or clock.now()
    learner = learner or learner_of(user_id=user_id)
    previews = previews or Previews(learner=learner, now=now)
    shown = shown_today(user_id=user_id, today=today, now=now, learner=learner)
    due = due_at_moment(today=today, now=now) & shown
    if category_slug:
        due &= Q(content__category__slug=category_slug)
    counts = _active(user_id).aggregate(total=Count("id"), due=Count("id", filter=due))
    return _today_page(
        _due_rows(user_id, today, now, category_slug, shown),
        count=counts["due"],
        total_count=counts["total"],
        page=page,
        page_size=page_size,
        base_url=base_url,
        serialize=functools.partial(today_items, previews=previews),
        category_slug=category_slug,
    )


def today_shared_for(
    *,
    user_id: int,
    today: date,
    now: datetime | None = None,
    learner: Learner | None = None,
    previews: Previews | None = None,
) -> dict:
    """The shared entry of today's answers at `now` (the clock's by default): the counts by
    category, and the first items in the list's order, as many as fit in SHARED_MAX_CARDS and
    SHARED_MAX_BYTES (measured as they are encoded); within the daily limits."""
    now = now or clock.now()
    learner = learner or learner_of(user_id=user_id)
    previews = previews or Previews(learner=learner, now=now)
    shown = shown_today(user_id=user_id, today=today, now=now, learner=learner)
    due = due_at_moment(today=today, now=now) & shown
    per_category = (
        _active(user_id)
        .values("content__category__slug")
        .annotate(total=Count("id"), due=Count("id", filter=due))
        .order_by()
    )
    counts = {row["content__category__slug"]: row for row in per_category}
    items, size = [], 0
    for item in today_items(_due_rows(user_id, today, now, shown=shown)[:SHARED_MAX_CARDS], previews=previews):
        size += len(orjson.dumps(item)) + 1
        if size > SHARED_MAX_BYTES:
            break
        items.append(item)
    return {
        "total_count": sum(row["total"] for row in counts.values()),
        "due": sum(row["due"] for row in counts.values()),
        "due_by_category": {slug: row["due"] for slug, row in counts.items() if slug is not None},
        "items": items,
    }


def today_read(
    *, user_id: int, category_slug: str | None = None, page: int, page_size: int, base_url: str
) -> CachedRead:
    """One cached page of today's list: what its entry is keyed by, and how it is computed on a
    miss. It is cut out of the user's shared entry (today_shared_read) while that holds the whole
    page: one entry, and one miss per write, for every page and filter a review screen asks.
    Today is the learner's: the entry ends with it, or when a stepping card comes due or a preview
    it holds changes before (`until`, asked after the compute, of the moment the compute took)."""
    # Note: the day is asked on a miss, not here: a hit needs neither the settings nor the day
    # (its entry ends with the day it was computed for; a change of the settings bumps it).
    day = functools.cache(functools.partial(learner_day, user_id=user_id))
    previews = functools.cache(lambda: Previews(learner=day().learner, now=day().now))
    query = {"category_slug": category_slug, "page": page, "page_size": page_size, "base_url": base_url}

    def compute() -> dict:
        return today_reviews_for(
            user_id=user_id, today=day().today, now=day().now, learner=day().learner, previews=previews(), **query
        )

    # Note: next/previous are absolute URLs, so the URL the client used is part of the key.
    until = functools.partial(today_ends_at, user_id=user_id, day=day, previews=previews)
    own = CachedRead(user_id, TODAY, query, compute, until=until)
    if not category_slug and page * page_size > SHARED_MAX_CARDS:
        return own  # past what the shared entry can ever hold: its own entry is the one lookup
    page_of = functools.partial(_page_of, **query)
    return own._replace(derived_from=Derivation(today_shared_read(user_id=user_id, day=day), page_of))


def today_shared_read(*, user_id: int, day: Callable[[], LearnerDay] | None = None) -> CachedRead:
    """The user's shared today entry (today_shared_for), what the warm-up and a write refresh."""
    day = day or functools.cache(functools.partial(learner_day, user_id=user_id))
    previews = functools.cache(lambda: Previews(learner=day().learner, now=day().now))
    return CachedRead(
        user_id,
        TODAY,
        {"shared": True},
        lambda: today_shared_for(
            user_id=user_id, today=day().today, now=day().now, learner=day().learner, previews=previews()
        ),
        until=functools.partial(today_ends_at, user_id=user_id, day=day, previews=previews),
    )


def _page_of(shared: dict, *, category_slug: str | None, page: int, page_size: int, base_url: str) -> dict | None:
    """The page out of the shared entry, as `today_reviews_for` builds it; None when the page
    reaches past the items the entry holds, or past the end (the own compute answers that 404)."""
    items, count = shared["items"], shared["due"]
    if category_slug:
        items = [item for item in items if (item["category"] or {}).get("slug") == category_slug]
        count = shared["due_by_category"].get(category_slug, 0)
    if len(items) < min(count, page * page_size):
        return None
    try:
        return _today_page(
            items,
            count=count,
            total_count=shared["total_count"],
            page=page,
            page_size=page_size,
            base_url=base_url,
            serialize=list,
            category_slug=category_slug,
        )
    except NotFound:
        return None


def recently_active_user_ids(*, days: int, limit: int) -> list[int]:
    """Users with a review in the last `days` days, most recently active first (the warm-up's)."""
    since = clock.now() - timedelta(days=days)
    return list(
        ReviewHistory.objects.filter(reviewed_at__gte=since, user__is_active=True)
        .values("user_id")
        .annotate(last_review=Max("reviewed_at"))
        .order_by("-last_review", "user_id")
        .values_list("user_id", flat=True)[:limit]
    )
