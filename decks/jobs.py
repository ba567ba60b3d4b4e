"""Where jobs run: Celery workers fed by RabbitMQ, or, with JOBS_IN_PROCESS (the embedded
default of `make run`, whose in-process Redis no worker could share), one thread of this process.
Either way the job is `decks.services.import_run`, and the caller learns only that it is queued."""

import logging
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from django.conf import settings
from django.db import connections
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)


class QueueUnavailable(Exception):
    """The broker could not take the job."""


def enqueue(job_id: str) -> None:
    if settings.JOBS_IN_PROCESS:
        _threads().submit(_run_here, job_id)
        return
    from decks.tasks import import_deck  # not at import: the API loads Celery only to send

    # Note: a connection of its own, to the broker the settings name now; an import is rare
    # enough that the AMQP handshake does not matter.
    try:
        with import_deck.app.connection_for_write(settings.CELERY_BROKER_URL) as connection:
            connection.ensure_connection(max_retries=1, timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT)
            import_deck.apply_async(args=[job_id], connection=connection, retry=True)
    except (OperationalError, OSError) as error:
        logger.error("jobs: could not queue %s: %s", job_id, error)
        raise QueueUnavailable(str(error)) from error


@cache
def _threads() -> ThreadPoolExecutor:
    # Note: one at a time, like a worker with concurrency 1: the dev server stays responsive.
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="resee-job")


def _run_here(job_id: str) -> None:
    from decks.services import import_run

    try:
        import_run(job_id=job_id)
    except Exception:
        logger.exception("jobs: %s failed", job_id)
    finally:
        connections.close_all()  # this thread's own connections, which no request closes
