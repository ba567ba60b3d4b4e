"""The Celery task of every job kind (`make worker`; resee.jobs). Acknowledged late and put back
if the worker dies (resee.settings CELERY_TASK_ACKS_LATE, CELERY_TASK_REJECT_ON_WORKER_LOST): each
kind's service is safe to run again."""

from resee import jobs
from resee.celery import app


@app.task(
    name="jobs.run",
    autoretry_for=jobs.RETRY_ON,
    max_retries=jobs.RETRIES,
    retry_backoff=jobs.RETRY_FIRST_DELAY,
    retry_jitter=False,
)
def run_job(kind: str, job_id: str) -> None:
    jobs.run(kind=kind, job_id=job_id)
