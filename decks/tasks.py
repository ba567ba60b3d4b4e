"""The Celery tasks (`make worker`). Acknowledged late and put back if the worker dies
(resee.settings CELERY_TASK_ACKS_LATE, CELERY_TASK_REJECT_ON_WORKER_LOST): import_run resumes."""

from decks.services import import_run
from resee.celery import app


@app.task(name="decks.import")
def import_deck(job_id: str) -> None:
    import_run(job_id=job_id)
