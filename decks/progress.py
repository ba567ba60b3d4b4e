"""A job's live progress: one JSON value per job in the jobs database (`job:{id}:progress`, TTL an
hour), overwritten by the worker as it goes and read by the status endpoint from any process.
The job row holds the same figures durably; when the key is gone (expired, evicted, Redis down)
the row answers."""

import orjson

from decks.models import ImportJob
from utils import redis_layer
from utils.conf import resee_setting
from utils.redis_layer import JOBS, RedisUnavailable

FIELDS = (
    "state",
    "processed",
    "total",
    "created",
    "skipped",
    "reviews",
    "reviews_skipped",
    "media",
    "errors",
    "message",
)


def progress_of(job: ImportJob) -> dict:
    return {
        "id": str(job.id),
        **{field: getattr(job, field) for field in FIELDS},
        "updated_at": job.updated_at.isoformat().replace("+00:00", "Z"),
    }


def _key(job_id) -> str:
    return f"{redis_layer.route(JOBS).prefix}:{job_id}:progress"


def progress_publish(job: ImportJob) -> None:
    """Best effort: a client that misses a write reads the row."""
    value = orjson.dumps({**progress_of(job), "owner_id": job.owner_id})
    ttl = resee_setting("IMPORT_PROGRESS_TTL_SECONDS")
    try:
        redis_layer.call(JOBS, "progress_set", redis_layer.client(JOBS).set, _key(job.id), value, ex=ttl)
    except RedisUnavailable:
        pass  # counted and logged by the layer


def progress_read(*, job_id, owner_id: int) -> dict | None:
    """The owner's job's progress, or None (no such job, or another user's)."""
    try:
        raw = redis_layer.call(JOBS, "progress_get", redis_layer.client(JOBS).get, _key(job_id))
    except RedisUnavailable:
        raw = None
    if raw is not None:
        progress = orjson.loads(raw)
        return progress if progress.pop("owner_id") == owner_id else None
    job = ImportJob.objects.filter(pk=job_id, owner_id=owner_id).defer("upload").first()
    return progress_of(job) if job else None
