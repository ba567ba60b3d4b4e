import uuid

from django.conf import settings
from django.db import models


class ImportJob(models.Model):
    """One uploaded deck on its way in: the durable record of a job whose live progress is in
    Redis (decks.progress), kept in step with what the job has committed."""

    QUEUED, RUNNING, SUCCEEDED, FAILED = "queued", "running", "succeeded", "failed"
    STATES = [(state, state) for state in (QUEUED, RUNNING, SUCCEEDED, FAILED)]
    FINISHED = {SUCCEEDED, FAILED}

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs")
    filename = models.CharField(max_length=255)
    format = models.CharField(max_length=8)
    state = models.CharField(max_length=16, choices=STATES, default=QUEUED)
    total = models.PositiveIntegerField(default=0)
    processed = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    media = models.PositiveIntegerField(default=0)
    reviews = models.PositiveIntegerField(default=0)  # answers of the created cards' history imported
    reviews_skipped = models.PositiveIntegerField(default=0)  # review-log entries that are no answers
    errors = models.JSONField(default=list)  # the first MAX_ERRORS problems, "line N: why"
    message = models.CharField(max_length=500, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Note: the file itself, until the job ends: any worker can read it, and it goes with the job.
    upload = models.BinaryField(null=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    MAX_ERRORS = 20

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.filename} ({self.state})"
