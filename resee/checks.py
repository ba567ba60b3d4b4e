"""Deploy checks of the project's own settings (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def cors_names_its_origins(app_configs, **kwargs):
    if not settings.CORS_ALLOW_ALL_ORIGINS:
        return []
    return [
        checks.Warning(
            "CORS_ALLOWED_ORIGINS contains '*': any web page may call the API from its visitors' browsers.",
            hint="List the web app's origins instead, e.g. CORS_ALLOWED_ORIGINS=https://app.example.",
            id="resee.W002",
        )
    ]
