"""Account writes: registration, the account's own changes, passwords, refresh-token rotation and
logout.

What they invalidate: no cached answer shows a user's username, email or password, so the
password calls invalidate nothing, nor does `account_update` unless it changes the learner's
settings (utils.cache_utils.policy says what those change); a deleted user's answers all go
(accounts.signals, on every path a user can be deleted by)."""

import functools
import logging
import time
import uuid
from datetime import UTC, datetime
from smtplib import SMTPException

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode
from rest_framework.exceptions import ValidationError
from rest_framework_simplejwt import tokens
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.tokens import RefreshToken, Token

from accounts import authentication
from accounts.models import Learner, RevokedToken, RevokedUser
from analytics.selectors import reviews_counted
from analytics.services import days_rebuild
from resee import jobs
from review.services import schedules_reschedule
from utils.cache_utils.policy import CREATED, invalidates
from utils.conf import resee_setting

User = get_user_model()
logger = logging.getLogger(__name__)

# The settings that say which day a moment falls on.
DAY_FIELDS = {"time_zone", "day_starts_at_hour"}

# Every refresh token descended from one sign-in carries its family's id.
FAMILY_CLAIM = "family"


def _taken_field(*, username: str, email: str, exclude_pk: int | None = None) -> str:
    """Which unique field a write that lost a race collided on."""
    others = User.objects.exclude(pk=exclude_pk)
    return "username" if others.filter(username=username).exists() else "email"


def user_register(*, username: str, password: str, email: str = "") -> User:
    try:
        with transaction.atomic():
            return User.objects.create_user(username=username, password=password, email=email)
    except IntegrityError:  # lost a race with another registration of the same name or email
        field = _taken_field(username=username, email=email)
        raise ValidationError({field: [f"A user with that {field} already exists."]}) from None


def account_update(*, user: User, changes: dict) -> User:
    """Saves the named fields only (a PATCH's); `changes["learner"]`, those of `user.learner`."""
    learner_changes = changes.pop("learner", {})
    if "zone" in learner_changes:
        learner_changes["time_zone"] = learner_changes.pop("zone")
    for name, value in changes.items():
        setattr(user, name, value)
    try:
        with transaction.atomic():
            user.save(update_fields=list(changes))
            learner_update(learner=user.learner, changes=learner_changes)
    except IntegrityError:
        field = _taken_field(username=user.username, email=user.email, exclude_pk=user.pk)
        raise ValidationError({field: [f"A user with that {field} already exists."]}) from None
    return user


def learner_update(*, learner: Learner, changes: dict) -> Learner:
    """Saves the learner's settings (the row, on the first change). A new zone or hour moves the
    learner's days: the past reviews are counted again into the days they now fall on, here for a
    short history, by a job for a long one (RESEE["RECOUNT_INLINE_MAX_REVIEWS"]); until the job
    is done `days_recount_job` names it and the stats say `days_recounting`. A switch to FSRS
    replays each card's history into its FSRS state, with the same threshold: here, or by a job
    that `reschedule_job` names until it is done (`reschedule_done` of `reschedule_total` cards).
    A switch back to the ladder keeps the cards' dates (the ladder goes on from their rungs) and
    stops a replay still running."""
    moved = [name for name, value in changes.items() if getattr(learner, name) != value]
    if not moved:
        return learner
    for name in moved:
        setattr(learner, name, changes[name])
    if days_moved := bool(DAY_FIELDS & set(moved)):
        learner.days_recount_job = _job_for_history(user_id=learner.user_id)
        moved.append("days_recount_job")
    if (switched := "scheduler" in moved) and (job := _reschedule_job(learner)) != learner.reschedule_job:
        learner.reschedule_job, learner.reschedule_done, learner.reschedule_total = job, 0, 0
        moved += ["reschedule_job", "reschedule_done", "reschedule_total"]
    created = learner._state.adding
    with invalidates(Learner, owner_id=learner.user_id, change=[CREATED] if created else moved, reason="learner"):
        learner.save(update_fields=None if created else moved)
    if days_moved:
        _days_recount(learner)
    if switched and learner.scheduler == Learner.FSRS:
        _fsrs_reschedule(learner)
    return learner


def _job_for_history(*, user_id: int) -> uuid.UUID | None:
    """The id of a job for a history too long to go over in the request (a recount's, a replay's);
    None for a short one."""
    long = reviews_counted(user_id=user_id) > resee_setting("RECOUNT_INLINE_MAX_REVIEWS")
    return uuid.uuid4() if long else None


def _days_recount(learner: Learner) -> None:
    if learner.days_recount_job is None:
        days_rebuild(user_id=learner.user_id)
    else:
        # Note: once the change is committed: the job must read the new zone and find its id.
        transaction.on_commit(functools.partial(_days_recount_queue, job_id=str(learner.days_recount_job)))


def _days_recount_queue(*, job_id: str) -> None:
    try:
        jobs.enqueue(kind=jobs.DAYS_RECOUNT, job_id=job_id)
    except jobs.QueueUnavailable:
        # Note: the change is committed; its days are recounted here rather than wait on a queue
        # that may stay down (the request takes longer, the answers are right).
        learner_days_recount(job_id=job_id)


def learner_days_recount(*, job_id: str) -> None:
    """The job (resee.jobs): the learner's days recounted from their history, in one transaction
    with the learner's row locked. Safe to run again: a recount from the history is the same each
    time, and a job the learner no longer waits for (done, or replaced by a later change's) does
    nothing."""
    with transaction.atomic():
        learner = Learner.objects.select_for_update().filter(days_recount_job=job_id).first()
        if learner is None:
            return
        days_rebuild(user_id=learner.user_id)
        learner.days_recount_job = None
        with invalidates(Learner, owner_id=learner.user_id, change=["days_recount_job"], reason="learner"):
            learner.save(update_fields=["days_recount_job"])


def _reschedule_job(learner: Learner) -> uuid.UUID | None:
    """The id of a job for a switch to FSRS with a history too long to replay in the request."""
    if learner.scheduler != Learner.FSRS:
        return None  # back on the ladder: a replay still running stops at its next batch
    return _job_for_history(user_id=learner.user_id)


def _fsrs_reschedule(learner: Learner) -> None:
    if learner.reschedule_job is None:
        schedules_reschedule(user_id=learner.user_id)
    else:
        # Note: once the switch is committed: the job must find its id and the learner on FSRS.
        transaction.on_commit(functools.partial(_fsrs_reschedule_queue, job_id=str(learner.reschedule_job)))


def _fsrs_reschedule_queue(*, job_id: str) -> None:
    try:
        jobs.enqueue(kind=jobs.FSRS_RESCHEDULE, job_id=job_id)
    except jobs.QueueUnavailable:
        # Note: as a recount does: the switch is committed, its replay is done here rather than
        # wait on a queue that may stay down.
        learner_fsrs_reschedule(job_id=job_id)


def learner_fsrs_reschedule(*, job_id: str) -> None:
    """The job (resee.jobs): the learner's cards replayed into FSRS in batches, one transaction
    each (review.services.schedules_reschedule), its progress on the learner's row, then the job
    cleared in a last one. Safe to run again: a replay from the history is the same each time, and
    a job the learner no longer waits for (done, or overtaken by a switch back to the ladder or a
    later switch's job) does nothing, or stops at its next batch."""
    learner = Learner.objects.filter(reschedule_job=job_id).first()
    if learner is None:
        return
    schedules_reschedule(
        user_id=learner.user_id,
        job_id=job_id,
        progress=functools.partial(_reschedule_progress, user_id=learner.user_id, job_id=job_id),
    )
    with transaction.atomic():
        learner = Learner.objects.select_for_update().filter(reschedule_job=job_id).first()
        if learner is None:
            return
        learner.reschedule_job = None
        with invalidates(Learner, owner_id=learner.user_id, change=["reschedule_job"], reason="learner"):
            learner.save(update_fields=["reschedule_job"])


def _reschedule_progress(done: int, total: int, *, user_id: int, job_id: str) -> None:
    learners = Learner.objects.filter(user_id=user_id, reschedule_job=job_id)
    with invalidates(Learner, owner_id=user_id, change=["reschedule_done", "reschedule_total"], reason="learner"):
        learners.update(reschedule_done=done, reschedule_total=total)


def password_validate(password: str, *, user: User, field: str) -> None:
    """Django's validators (AUTH_PASSWORD_VALIDATORS) as a 400 naming `field`."""
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationError({field: exc.messages}) from None


def _check_password(user: User, password: str, *, field: str) -> None:
    if not user.check_password(password):
        raise ValidationError({field: ["The password is not correct."]})


def account_delete(*, user: User, password: str) -> None:
    """The user and everything they own (cascades); the signal revokes their tokens and drops
    their cached answers."""
    _check_password(user, password, field="password")
    with transaction.atomic():
        user.delete()


def refresh_token_for(user: User, *, family: str | None = None) -> RefreshToken:
    """A refresh token of `family`; without one, the first of a new sign-in."""
    refresh = RefreshToken.for_user(user)
    refresh[FAMILY_CLAIM] = family or uuid.uuid4().hex
    return refresh


def _pair(refresh: RefreshToken) -> dict:
    return {"access": str(refresh.access_token), "refresh": str(refresh)}


def _wait_past(cutoff: int) -> None:
    # Note: `iat` has whole seconds and the cut-off kills every token issued up to its second, so
    # the call answers in the next one, and a token issued after its answer lives: at most a
    # second, on a call that hashes a password anyway.
    delay = cutoff + 1 - tokens.aware_utcnow().timestamp()
    if delay > 0:
        time.sleep(delay)


def password_change(*, user: User, current_password: str, new_password: str) -> dict:
    """Every token issued so far dies (the user's other sessions, and the caller's own); the answer
    is a new pair of a new sign-in."""
    _check_password(user, current_password, field="current_password")
    password_validate(new_password, user=user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        cutoff = authentication.revoke_user_tokens(user_id=user.pk)
    _wait_past(cutoff)
    return _pair(refresh_token_for(user))


def password_reset_request(*, email: str) -> None:
    """Mails a reset link to the account with this address, if there is one that can sign in.
    Silent either way: the caller learns nothing about which addresses have accounts."""
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None or not user.has_usable_password():
        return
    context = {
        "user": user,
        "uid": urlsafe_base64_encode(force_bytes(user.pk)),
        "token": default_token_generator.make_token(user),
    }
    context["link"] = settings.PASSWORD_RESET_URL.format(**context) if settings.PASSWORD_RESET_URL else ""
    body = render_to_string("accounts/password_reset_email.txt", context)
    try:
        send_mail("Reset your Resee password", body, None, [user.email])
    except (SMTPException, OSError) as exc:
        # Note: answered like any other address; an error here would tell that the account exists.
        logger.error("password reset: mail to user %s not sent: %s", user.pk, exc)


def _user_of_uid(uid: str) -> User:
    try:
        return User.objects.get(pk=int(force_str(urlsafe_base64_decode(uid))), is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        raise ValidationError({"uid": ["Invalid or unknown uid."]}) from None


def password_reset_confirm(*, uid: str, token: str, new_password: str) -> None:
    """Sets the new password and ends every session (whoever asked for the reset may be the only
    one who knew the old password)."""
    user = _user_of_uid(uid)
    if not default_token_generator.check_token(user, token):
        raise ValidationError({"token": ["The reset token is invalid or expired."]})
    password_validate(new_password, user=user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        cutoff = authentication.revoke_user_tokens(user_id=user.pk)
    _wait_past(cutoff)  # a sign-in right after the answer must not fall under the cut-off


def _expiry(token: Token) -> datetime:
    return datetime.fromtimestamp(token["exp"], tz=UTC)


def _parse_refresh(raw: str) -> RefreshToken:
    try:
        return RefreshToken(raw)
    except TokenError as exc:
        raise InvalidToken(str(exc)) from None


def _family(refresh: RefreshToken) -> str:
    # Note: a token issued before families existed is the first of its own.
    return refresh.get(FAMILY_CLAIM) or refresh["jti"]


def _refreshable_user(refresh: RefreshToken) -> User:
    user_id = int(refresh["user_id"])
    user = User.objects.filter(pk=user_id, is_active=True).first()
    cutoff = RevokedUser.objects.filter(user_id=user_id).values_list("not_after", flat=True).first()
    cut_off = cutoff is not None and refresh["iat"] <= cutoff
    if user is None or cut_off or authentication.is_family_revoked(_family(refresh)):
        raise InvalidToken("Token has been revoked.")
    return user


def token_refresh(*, raw_refresh: str) -> dict:
    """Rotate: the presented refresh token is spent and a new pair of its family is issued, unless
    the user is gone, deactivated, cut off after the token was issued, or the family is dead. A
    spent token presented again kills its family: one of its two holders is not its owner."""
    refresh = _parse_refresh(raw_refresh)
    user_id, family = int(refresh["user_id"]), _family(refresh)
    with transaction.atomic():
        user = _refreshable_user(refresh)
        if authentication.revoke_token(
            jti=refresh["jti"], user_id=user_id, token_type=RevokedToken.REFRESH, expires_at=_expiry(refresh)
        ):
            return _pair(refresh_token_for(user, family=family))
        authentication.revoke_family(family=family, user_id=user_id, expires_at=_expiry(refresh))
    logger.warning("refresh token reused: family %s of user %s revoked", family, user_id)
    raise InvalidToken("Refresh token was already used: every session of its sign-in is ended.")


@transaction.atomic
def user_logout(*, user_id: int, access: Token, raw_refresh: str | None = None) -> None:
    if raw_refresh:
        refresh = _parse_refresh(raw_refresh)
        if int(refresh["user_id"]) != user_id:
            raise InvalidToken("The refresh token belongs to another user.")
        authentication.revoke_token(
            jti=refresh["jti"], user_id=user_id, token_type=RevokedToken.REFRESH, expires_at=_expiry(refresh)
        )
    authentication.revoke_token(
        jti=access["jti"], user_id=user_id, token_type=RevokedToken.ACCESS, expires_at=_expiry(access)
    )
