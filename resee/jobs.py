"""Where jobs run: Celery workers fed by RabbitMQ, or, with JOBS_IN_PROCESS (the embedded
default of `make run`, whose in-process Redis no worker could share), one thread of this process.
A job is a kind and an id; the caller learns only that it is queued.

A kind names the service that runs one job of it from the job's id (KINDS). That service must be
safe to run again on the same id: Celery acknowledges late and delivers a job again when its
worker dies (resee.settings CELERY_TASK_ACKS_LATE), a job that met a database error is tried
again (RETRY_ON), and a job whose work is done does nothing."""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from django.conf import settings
from django.db import OperationalError as DatabaseOperationalError
from django.db import connections
from django.utils.module_loading import import_string
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

DECK_IMPORT, DAYS_RECOUNT, FSRS_RESCHEDULE = "deck_import", "days_recount", "fsrs_reschedule"
KINDS = {
    DECK_IMPORT: "decks.services.import_run",
    DAYS_RECOUNT: "accounts.services.learner_days_recount",
    FSRS_RESCHEDULE: "accounts.services.learner_fsrs_reschedule",
}


# Note: a lock, a restart or a dropped connection passes; a recount or a replay has no failed state
# a learner could see, so a job gives up only after these tries (a few seconds of backoff).
RETRY_ON = (DatabaseOperationalError,)
RETRIES = 5
RETRY_FIRST_DELAY = 0.2  # seconds, doubled at each try (as Celery's retry_backoff does)


class QueueUnavailable(Exception):
    """The broker could not take the job."""


def run(*, kind: str, job_id: str) -> None:
    """One job, here and now (what a worker does with a queued one)."""
    import_string(KINDS[kind])(job_id=job_id)


def enqueue(*, kind: str, job_id: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"No job kind {kind!r} (resee.jobs.KINDS).")
    if settings.JOBS_IN_PROCESS:
        _threads().submit(_run_here, kind, job_id)
        return
    from resee.tasks import run_job  # not at import: the API loads Celery only to send

    # Note: a connection of its own, to the broker the settings name now; a job is rare enough
    # that the AMQP handshake does not matter.
    try:
        with run_job.app.connection_for_write(settings.CELERY_BROKER_URL) as connection:
            connection.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
            run_job.apply_async(args=[kind, job_id], connection=connection, retry=True)
    except (OperationalError, OSError) as error:
        logger.error("jobs: could not queue %s %s: %s", kind, job_id, error)
        raise QueueUnavailable(str(error)) from error


@cache
def _threads() -> ThreadPoolExecutor:
    # Note: one at a time, like a worker with concurrency 1: the dev server stays responsive.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="resee-job")


def _run_here(kind: str, job_id: str) -> None:
    for attempt in range(RETRIES + 1):
        try:
            run(kind=kind, job_id=job_id)
            return
        except RETRY_ON as error:
            if attempt == RETRIES:
                logger.exception("jobs: %s %s failed after %d tries", kind, job_id, attempt + 1)
                return
            logger.warning("jobs: %s %s: %s; trying again", kind, job_id, error)
            time.sleep(RETRY_FIRST_DELAY * 2**attempt)
        except Exception:
            logger.exception("jobs: %s %s failed", kind, job_id)
            return
        finally:
            connections.close_all()  # this thread's own connections, which no request closes
