"""Reads of accounts: the learner's settings, which a miss and a write of the learner's day ask."""

from datetime import date
from typing import NamedTuple

from accounts.models import Learner
from utils import clock


def learner_of(*, user_id: int) -> Learner:
    """The user's settings; the defaults (an unsaved row) for a user who never changed one."""
    return Learner.objects.filter(user_id=user_id).first() or Learner(user_id=user_id)


def learner_today(*, user_id: int) -> date:
    return learner_of(user_id=user_id).day_of(clock.now())


class LearnerDay(NamedTuple):
    """The learner's settings, their day at one moment, and when that day ends (epoch seconds of
    `clock.now()`): a cached answer of the day lives no longer."""

    learner: Learner
    today: date
    ends_at: float


def learner_day(*, user_id: int) -> LearnerDay:
    learner, moment = learner_of(user_id=user_id), clock.now()
    return LearnerDay(learner, learner.day_of(moment), learner.next_day_at(moment).timestamp())
