"""Which writes change which cached answers: the one table to read.

    model                  change                              answers it makes stale
    content.Content        created                             content, stats (total_contents)
                           deleted                             content, stats, today (its schedule and
                                                               history go with it)
                           title, body                         content, today
                           created_at, updated_at              content
                           content_hash                        none: shown nowhere
                           category                            content, today, stats (by category)
    content.Category       created                             none: no answer shows a category
                                                               that no card is in
                           deleted                             content, today, stats (its cards
                                                               become uncategorised)
                           name, slug                          content, today, stats
    review.ReviewSchedule  created, next_review_date,          today, stats (the summary's due,
                           is_active, initial_review_completed overdue and new)
                           state, due_at                       today, stats (whether a card on its
                                                               learning steps is due, and when)
                           interval_step, step, stability,     today (where the card stands,
                           difficulty, last_review_at          what each grade would do)
                           deleted                             today, stats (its counts)
                           reviews                             today (an FSRS preview's fuzz),
                                                               stats (totals, rates)
                           remembered, recalled, lapses        stats (totals, rates, leeches)
                           updated_at                          none: shown nowhere
    review.ReviewHistory   anything                            none: the stats read the counts
    analytics.DayTally     anything                            stats (today, per day, streak)
    accounts.Learner       created, deleted, time_zone,        today, stats (the learner's day)
                           day_starts_at_hour
                           new_cards_per_day, reviews_per_day  today (the daily limits)
                           scheduler, desired_retention        today (what each grade would do)
                           days_recount_job                    stats (`days_recounting`)
                           reschedule_job                      today, stats (a switch's replay,
                                                               done: its cards' last batch)
                           reschedule_done, reschedule_total   none: shown on the account only
    (a deleted user: every answer; accounts.signals)

Which moments change which cached answers with no write at all: the second table. An answer that
changes with the clock carries the next such moment, computed with it (CachedRead.until); its
entry is never served past it, fresh, stale or from an L1 (utils.cache_utils.store).

    clock event                      answers it changes
    the learner's day turns          today (what is due; the daily limits start again),
    (their zone, their rollover)     stats (today's reviews, the 30 days, the streak)
    a card on its learning or        today (the card joins the list), stats (the
    relearning steps comes due       summary's due): the first `due_at` after the moment
    (its `due_at`)                   the answer was computed at, among the active cards
    a whole day more since an FSRS   today (what each grade would do: FSRS reads the whole
    card's last review               days since it; review.scheduling.previews_change_at)
    (none)                           content: only writes change it

A change the table does not name (another field, a save without `update_fields`) is taken as a
change of everything the model's rows show: unknown means everything, never nothing.

Services say what they write: `with invalidates(Content, owner_id=..., change={"title"}):`
around the write. Every other path is caught: a save or delete from the admin or the shell by
the receivers `watch_models` connects (muted inside a service's block, which has said it all),
`QuerySet.update()` and `bulk_create()` by `PolicedQuerySet`, the models' manager.
"""

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models.signals import post_delete, post_save

from utils.cache_utils.conf import CONTENT, STATS, TODAY
from utils.cache_utils.invalidation import invalidate_on_commit

CREATED, DELETED = "+created", "+deleted"  # not field names: a field cannot start with "+"


@dataclass(frozen=True)
class Rule:
    owner: str  # the attribute holding the user whose answers the row is in
    changes: dict[str, set[str]]  # field name, CREATED or DELETED -> namespaces

    @cached_property
    def everything(self) -> set[str]:
        return set().union(*self.changes.values())


POLICY: dict[str, Rule] = {
    "content.Content": Rule(
        "owner_id",
        {
            CREATED: {CONTENT, STATS},
            DELETED: {CONTENT, STATS, TODAY},
            "title": {CONTENT, TODAY},
            "body": {CONTENT, TODAY},
            "created_at": {CONTENT},
            "updated_at": {CONTENT},
            "content_hash": set(),
            "category": {CONTENT, TODAY, STATS},
        },
    ),
    "content.Category": Rule(
        "owner_id",
        {
            CREATED: set(),
            DELETED: {CONTENT, TODAY, STATS},
            "name": {CONTENT, TODAY, STATS},
            "slug": {CONTENT, TODAY, STATS},
        },
    ),
    "review.ReviewSchedule": Rule(
        "owner_id",
        {
            CREATED: {TODAY, STATS},
            DELETED: {TODAY, STATS},
            "next_review_date": {TODAY, STATS},
            "interval_step": {TODAY},
            "state": {TODAY, STATS},
            "step": {TODAY},
            "stability": {TODAY},
            "difficulty": {TODAY},
            "due_at": {TODAY, STATS},
            "last_review_at": {TODAY},
            "is_active": {TODAY, STATS},
            "initial_review_completed": {TODAY, STATS},
            "reviews": {TODAY, STATS},  # Note: FSRS's fuzz of a preview is drawn by it
            "remembered": {STATS},
            "recalled": {STATS},
            "lapses": {STATS},
            "updated_at": set(),
        },
    ),
    # Note: the stats read the counts, not the history: a history row shows in no cached answer.
    "review.ReviewHistory": Rule("user_id", {CREATED: set(), DELETED: set()}),
    "accounts.Learner": Rule(
        "user_id",
        {
            CREATED: {TODAY, STATS},
            DELETED: {TODAY, STATS},
            "time_zone": {TODAY, STATS},
            "day_starts_at_hour": {TODAY, STATS},
            "new_cards_per_day": {TODAY},
            "reviews_per_day": {TODAY},
            "scheduler": {TODAY},
            "desired_retention": {TODAY},
            "days_recount_job": {STATS},
            "reschedule_job": {TODAY, STATS},
            "reschedule_done": set(),
            "reschedule_total": set(),
        },
    ),
    "analytics.DayTally": Rule(
        "user_id", {CREATED: {STATS}, DELETED: {STATS}, "reviews": {STATS}, "run_start": {STATS}}
    ),
}


LEARNER_DAY, STEP_DUE = "learner's day", "learning step due"
PREVIEW_DAY = "a whole day since an FSRS card's last review"
CLOCK_EVENTS: dict[str, set[str]] = {LEARNER_DAY: {TODAY, STATS}, STEP_DUE: {TODAY, STATS}, PREVIEW_DAY: {TODAY}}


def changes_with_clock(namespace: str) -> set[str]:
    """The clock events that change the answers of `namespace` (an empty set: writes only)."""
    return {event for event, namespaces in CLOCK_EVENTS.items() if namespace in namespaces}


def namespaces_for(model: type[models.Model], *, change: Iterable[str]) -> set[str]:
    """The namespaces a write of `change` (field names, CREATED, DELETED) to `model` makes stale."""
    rule = POLICY[model._meta.label]
    stale: set[str] = set()
    for name in change:
        stale |= rule.changes.get(_field_name(model, name), rule.everything)
    return stale


def _field_name(model: type[models.Model], name: str) -> str:
    if name in (CREATED, DELETED):
        return name
    try:
        return model._meta.get_field(name).name  # "category_id" is the field "category"
    except FieldDoesNotExist:
        return name


_muted = threading.local()


@contextmanager
def invalidates(*writes: type[models.Model], owner_id: int, change: Iterable[str], reason: str) -> Iterator[None]:
    """Around a service's write to the models `writes`: once it commits, bump what `change` makes
    stale for `owner_id`, in one bump however many models and transactions the block spans. The
    backstop receivers stay out of the block (what it writes, the service has declared)."""
    _muted.depth = getattr(_muted, "depth", 0) + 1
    try:
        yield
    finally:
        _muted.depth -= 1
        # Note: bumped even if the block raised: part of it may have been written.
        stale = set().union(*(namespaces_for(model, change=change) for model in writes))
        invalidate_on_commit(user_id=owner_id, namespaces=stale, reason=reason)


def _muted_now() -> bool:
    return getattr(_muted, "depth", 0) > 0


def _backstop(model: type[models.Model], instance, change: Iterable[str]) -> None:
    if not _muted_now():
        owner_id = getattr(instance, POLICY[model._meta.label].owner)
        invalidate_on_commit(user_id=owner_id, namespaces=namespaces_for(model, change=change), reason=_reason(model))


def _saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    _backstop(sender, instance, [CREATED] if created else (update_fields or ["*"]))  # "*": no field named


def _deleted(sender, instance, **kwargs) -> None:
    _backstop(sender, instance, [DELETED])


def _reason(model: type[models.Model]) -> str:
    return model._meta.model_name


def watch_models() -> None:
    """Connect the backstop receivers of every model in the table (from CacheConfig.ready())."""
    for label in POLICY:
        model = apps.get_model(label)
        post_save.connect(_saved, sender=model, dispatch_uid=f"cache.policy.saved.{label}")
        post_delete.connect(_deleted, sender=model, dispatch_uid=f"cache.policy.deleted.{label}")


class PolicedQuerySet(models.QuerySet):
    """`update()` and `bulk_create()` send no signals; these bump what the table says for every
    owner they touch (one query more, to learn the owners of an update)."""

    def update(self, **changes):
        rule = POLICY[self.model._meta.label]
        owners = set(self.values_list(rule.owner, flat=True).distinct()) if not _muted_now() else set()
        moved_to = changes.get(rule.owner, changes.get(rule.owner.removesuffix("_id")))
        if moved_to is not None and owners:  # rows given to another user change their answers too
            owners.add(getattr(moved_to, "pk", moved_to))
        updated = super().update(**changes)
        stale = namespaces_for(self.model, change=changes)
        for owner_id in owners:
            invalidate_on_commit(user_id=owner_id, namespaces=stale, reason=_reason(self.model))
        return updated

    def bulk_create(self, objs, *args, **kwargs):
        created = super().bulk_create(objs, *args, **kwargs)
        if not _muted_now():
            owner = POLICY[self.model._meta.label].owner
            for owner_id in {getattr(obj, owner) for obj in created}:
                stale = namespaces_for(self.model, change=[CREATED])
                invalidate_on_commit(user_id=owner_id, namespaces=stale, reason=_reason(self.model))
        return created
