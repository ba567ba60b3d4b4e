"""Deck imports: `import_start` (the request: check the file, record the job, queue it) and
`import_run` (the worker: the cards in batches, each batch one transaction that also moves the
job row, so the row always says exactly what was created, and a retried job resumes where the
last commit left it). The import writes cards, categories and schedules and bumps their owner's
cached answers once, when the job ends."""

import functools
import io
import logging
from collections.abc import Iterable, Iterator
from datetime import date

from django.db import IntegrityError, transaction
from django.utils.text import slugify
from rest_framework.exceptions import ValidationError

from accounts.selectors import learner_today
from content.models import Category, Content, content_hash
from decks import readers
from decks.models import ImportJob
from decks.progress import progress_publish
from resee import jobs
from review.models import ReviewSchedule
from utils import clock
from utils.cache_utils.policy import CREATED, invalidates
from utils.conf import resee_setting, review_intervals

logger = logging.getLogger(__name__)

# Note: a worker that died this many times on one file (say, out of memory) will die again.
MAX_ATTEMPTS = 3
# Note: about a dozen progress writes per job, and no transaction longer than a thousand cards.
BATCHES_PER_JOB, MIN_BATCH, MAX_BATCH = 12, 50, 1000


def limits() -> readers.Limits:
    return readers.Limits(
        max_collection_bytes=resee_setting("IMPORT_MAX_COLLECTION_BYTES"),
        max_notes=resee_setting("IMPORT_MAX_NOTES"),
    )


def import_start(*, owner_id: int, file, name: str) -> ImportJob:
    """Refuse a file that cannot be imported (ValidationError, the reader's message), else record
    and queue its job. jobs.QueueUnavailable when the job cannot be queued (the job is failed)."""
    try:
        with readers.open_deck(file, name=name, limits=limits()) as deck:
            job = ImportJob(
                owner_id=owner_id, filename=name[:255], format=deck.format, total=deck.total, media=deck.media
            )
    except readers.DeckError as error:
        raise ValidationError({"file": [str(error)]}, code=error.code) from None
    file.seek(0)
    job.upload = file.read()
    job.save()
    # Note: once the job's row is committed (at once outside a transaction): a worker must find it.
    transaction.on_commit(functools.partial(_queue, job))
    return job


def _queue(job: ImportJob) -> None:
    progress_publish(job)
    try:
        jobs.enqueue(kind=jobs.DECK_IMPORT, job_id=str(job.id))
    except jobs.QueueUnavailable:
        _finish(job, ImportJob.FAILED, "The job queue is unavailable; nothing was imported. Please retry shortly.")
        raise


def import_run(*, job_id: str) -> None:
    """The job's work, in whatever process runs jobs. Safe to run again on the same job (a
    redelivered task): a finished job is left alone, a started one resumes."""
    job = _begin(job_id)
    if job is None:
        return
    try:
        with invalidates(Content, ReviewSchedule, owner_id=job.owner_id, change=[CREATED], reason="import"):
            _import_batches(job)
    except readers.DeckError as error:
        _finish(job, ImportJob.FAILED, f"{error} ({_created(job)} created before it stopped.)")
    except Exception:
        logger.exception("import %s failed", job.pk)
        _finish(job, ImportJob.FAILED, f"The import stopped on an unexpected error; {_created(job)} created.")
    else:
        _finish(job, ImportJob.SUCCEEDED, _summary(job))


def _begin(job_id: str) -> ImportJob | None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.state in ImportJob.FINISHED:
            return None
        job.attempts += 1
        job.state = ImportJob.RUNNING
        job.save(update_fields=["attempts", "state", "updated_at"])
    if job.attempts > MAX_ATTEMPTS:
        _finish(job, ImportJob.FAILED, f"The import was interrupted {MAX_ATTEMPTS} times; {_created(job)} created.")
        return None
    progress_publish(job)
    return job


def _import_batches(job: ImportJob) -> None:
    size = min(max(-(-job.total // BATCHES_PER_JOB), MIN_BATCH), MAX_BATCH)
    categories: dict[str, int] = {}
    with readers.open_deck(io.BytesIO(job.upload), name=job.filename, limits=limits()) as deck:
        for batch in _chunks(deck.notes(start=job.processed), size):
            _import_batch_once(job, batch, categories)
            progress_publish(job)


def _import_batch_once(job: ImportJob, batch: list, categories: dict[str, int]) -> None:
    """One transaction; tried again once if the owner made one of its cards meanwhile (the second
    try sees it and skips it)."""
    try:
        with transaction.atomic():
            _import_batch(job, batch, categories)
    except IntegrityError:
        categories.clear()  # Note: ids learnt in the rolled-back transaction may not exist
        with transaction.atomic():
            _import_batch(job, batch, categories)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _import_batch(job: ImportJob, batch: list, categories: dict[str, int]) -> None:
    notes, problems = _sorted_out(batch)
    fresh = _not_yet_owned(job.owner_id, notes)
    cards = Content.objects.bulk_create(
        Content(
            owner_id=job.owner_id,
            title=note.title,
            body=note.body,
            content_hash=digest,
            category_id=_category_id(job.owner_id, note.category, categories),
        )
        for digest, note in fresh.items()
    )
    today = learner_today(user_id=job.owner_id)
    schedules = (_schedule(card, note, today) for card, note in zip(cards, fresh.values(), strict=True))
    ReviewSchedule.objects.bulk_create(schedules)
    job.processed += len(batch)
    job.created += len(cards)
    job.skipped += len(batch) - len(cards)
    job.errors = (job.errors + problems)[: ImportJob.MAX_ERRORS]
    job.save(update_fields=["processed", "created", "skipped", "errors", "updated_at"])


def _sorted_out(batch: list) -> tuple[list[readers.Note], list[str]]:
    notes, problems = [], []
    for item in batch:
        if isinstance(item, readers.Problem):
            problems.append(f"line {item.line}: {item.message}")
        elif not item.title:
            problems.append(f"line {item.line}: the front is empty")
        else:
            notes.append(item)
    return notes, problems


def _not_yet_owned(owner_id: int, notes: list[readers.Note]) -> dict[str, readers.Note]:
    """The notes whose card the owner does not have yet (nor earlier in this batch), by hash."""
    fresh = {}
    for note in notes:
        fresh.setdefault(content_hash(note.title, note.body), note)
    owned = Content.objects.filter(owner_id=owner_id, content_hash__in=list(fresh)).values_list(
        "content_hash", flat=True
    )
    for digest in owned:
        del fresh[digest]
    return fresh


def _category_id(owner_id: int, name: str | None, known: dict[str, int]) -> int | None:
    """The owner's category of that name: the one of its slug if there is one, else a new one
    (no cached answer shows a category before a card is in it, so none is bumped here)."""
    if name is None:
        return None
    if name not in known:
        slug = slugify(name, allow_unicode=True)[:100] or f"deck-{content_hash(name, '')[:8]}"
        category, _ = Category.objects.get_or_create(owner_id=owner_id, slug=slug, defaults={"name": name})
        known[name] = category.pk
    return known[name]


def _schedule(card: Content, note: readers.Note, today: date) -> ReviewSchedule:
    """Where Anki had the card, on our nearest rung at or below its interval; else new, due today."""
    schedule = ReviewSchedule(owner_id=card.owner_id, content=card, next_review_date=today)
    if note.review is not None:
        schedule.interval_step = _rung(note.review.interval_days)
        schedule.next_review_date = note.review.due
        schedule.initial_review_completed = True
        schedule.is_active = not note.review.suspended
    return schedule


def _rung(interval_days: int) -> int:
    return max([step for step, days in enumerate(review_intervals()) if days <= interval_days], default=0)


def _created(job: ImportJob) -> str:
    return f"{job.created} card{'s' * (job.created != 1)}"


def _summary(job: ImportJob) -> str:
    media = f"; {job.media} media files counted, not stored" if job.media else ""
    return f"Imported {_created(job)}, skipped {job.skipped}{media}."


def _finish(job: ImportJob, state: str, message: str) -> None:
    """The end of a job: its state, why, and the file dropped; then the progress says so."""
    ImportJob.objects.filter(pk=job.pk).update(state=state, message=message[:500], upload=None, updated_at=clock.now())
    job.refresh_from_db(fields=["state", "message", "processed", "created", "skipped", "errors", "updated_at"])
    progress_publish(job)
