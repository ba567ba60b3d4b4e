"""The import's task under the name earlier releases queued it by: an import still in the queue
at an upgrade runs. New jobs of every kind go to resee.tasks."""

from resee import jobs
from resee.celery import app


@app.task(name="decks.import")
def import_deck(job_id: str) -> None:
    jobs.run(kind=jobs.DECK_IMPORT, job_id=job_id)
