"""The Celery app of the workers (`make worker`): configured from the CELERY_* settings, tasks
found in the apps' tasks.py (resee.tasks runs every kind of job, resee.jobs)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resee.settings")

app = Celery("resee")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
