"""Deck imports: `import_start` (the request: check the file, record the job, queue it) and
`import_run` (the worker: the cards in batches, each batch one transaction that also moves the
job row, so the row always says exactly what was created, and a retried job resumes where the
last commit left it). The import writes cards, categories, schedules and the history of the
cards it creates (an Anki package's review log), and bumps their owner's cached answers once,
when the job ends."""

import functools
import io
import logging
from collections.abc import Iterable, Iterator
from datetime import date

from django.db import IntegrityError, connection, transaction
from django.utils.text import slugify
from rest_framework.exceptions import ValidationError

from accounts.models import Learner
from accounts.selectors import learner_of
from analytics.services import days_rebuild
from content.models import Category, Content, content_hash
from decks import readers
from decks.models import ImportJob
from decks.progress import progress_publish
from resee import jobs
from review.models import Grade, ReviewHistory, ReviewSchedule
from review.services import count_answer
from utils import clock
from utils.cache_utils.policy import CREATED, invalidates
from utils.conf import resee_setting, review_intervals

logger = logging.getLogger(__name__)

# Note: a worker that died this many times on one file (say, out of memory) will die again.
MAX_ATTEMPTS = 3
# Note: about a dozen progress writes per job, and no transaction longer than a thousand cards.
BATCHES_PER_JOB, MIN_BATCH, MAX_BATCH = 12, 50, 1000
HISTORY_BATCH = 5000  # rows per INSERT of imported history (but on PostgreSQL: one COPY per batch)
# Note: every column a row needs, those with a default too: COPY leaves Django's defaults out.
HISTORY_COLUMNS = ("user_id", "content_id", "result", "scheduler", "time_spent_seconds", "reviewed_at", "undone_after")
ANKI = "anki"  # the scheduler of an imported answer (ReviewHistory.scheduler)
PROGRESS_FIELDS = ["state", "message", "processed", "created", "skipped", "reviews", "reviews_skipped", "errors"]


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
        with invalidates(
            Content, ReviewSchedule, ReviewHistory, owner_id=job.owner_id, change=[CREATED], reason="import"
        ):
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
    learner = learner_of(user_id=job.owner_id)
    today = learner.day_of(clock.now())
    created = list(zip(cards, fresh.values(), strict=True))
    ReviewSchedule.objects.bulk_create(_schedule(card, note, learner, today) for card, note in created)
    job.reviews += _history_add(created)
    job.reviews_skipped += sum(note.manual for note in fresh.values())
    job.processed += len(batch)
    job.created += len(cards)
    job.skipped += len(batch) - len(cards)
    job.errors = (job.errors + problems)[: ImportJob.MAX_ERRORS]
    fields = ["processed", "created", "skipped", "reviews", "reviews_skipped", "errors", "updated_at"]
    job.save(update_fields=fields)


def _history_add(created: list[tuple[Content, readers.Note]]) -> int:
    """The history of the cards just created, as the package has it (their schedules counted it).
    # Note: in the transaction that creates the cards, and only theirs: a batch tried again, or a
    job resumed, writes no answer twice; a card the owner had already gets none."""
    rows = [
        (card.owner_id, card.pk, Grade(answer.ease).label, ANKI, answer.seconds, answer.at, 0)
        for card, note in created
        for answer in note.history
    ]
    if connection.vendor == "postgresql":
        _copy(ReviewHistory, HISTORY_COLUMNS, rows)
    else:
        ReviewHistory.objects.bulk_create(
            (ReviewHistory(**dict(zip(HISTORY_COLUMNS, row, strict=True))) for row in rows), batch_size=HISTORY_BATCH
        )
    return len(rows)


def _copy(model, columns: tuple[str, ...], rows: list[tuple]) -> None:
    """Rows into the model's table by PostgreSQL's COPY. # Note: the ORM's bulk insert spends most of
    an import with history preparing its values one by one; COPY streams them as they are."""
    fields = [model._meta.get_field(name) for name in columns]
    table, names = model._meta.db_table, ", ".join(field.column for field in fields)
    with connection.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(row)


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


def _schedule(card: Content, note: readers.Note, learner: Learner, today: date) -> ReviewSchedule:
    """Where Anki had the card, on our nearest rung at or below its interval, with its memory
    state; else new, due `today` (the learner's). Answered (its history), though Anki may have
    reset it to new."""
    last = note.history[-1].at if note.history else None
    schedule = ReviewSchedule(owner_id=card.owner_id, content=card, next_review_date=today, last_review_at=last)
    # Note: the counts of the card's history, answer by answer as completions count them: the card
    # is new, so its history is exactly these answers (a recount from the rows gives the same).
    for answer in note.history:
        count_answer(schedule, grade=answer.ease)
    review = note.review
    if review is not None:
        schedule.interval_step = _rung(review.interval_days)
        schedule.next_review_date = learner.day_of(review.due_at) if review.due_at else review.due
        schedule.due_at = review.due_at
        schedule.state = review.state
        schedule.stability, schedule.difficulty = review.stability, review.difficulty
        schedule.initial_review_completed = True
        schedule.is_active = not review.suspended
    return schedule


def _rung(interval_days: int) -> int:
    return max([step for step, days in enumerate(review_intervals()) if days <= interval_days], default=0)


def _created(job: ImportJob) -> str:
    return f"{job.created} card{'s' * (job.created != 1)}"


def _summary(job: ImportJob) -> str:
    reviews = f", with {job.reviews} review{'s' * (job.reviews != 1)} of their history" if job.reviews else ""
    manual = f" ({job.reviews_skipped} manual reschedules left out)" if job.reviews_skipped else ""
    media = f"; {job.media} media files counted, not stored" if job.media else ""
    return f"Imported {_created(job)}{reviews}{manual}, skipped {job.skipped}{media}."


def _finish(job: ImportJob, state: str, message: str) -> None:
    """The end of a job: its state, why, and the file dropped; then the progress says so. The
    owner's day tallies are counted again from the history if the job brought any (whatever
    batches committed, however the job ended)."""
    if job.reviews:
        days_rebuild(user_id=job.owner_id)  # Note: before the job says it is finished
    ImportJob.objects.filter(pk=job.pk).update(state=state, message=message[:500], upload=None, updated_at=clock.now())
    job.refresh_from_db(fields=[*PROGRESS_FIELDS, "updated_at"])
    progress_publish(job)
