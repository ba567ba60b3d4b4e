"""Deploy checks of the project's own settings (`manage.py check --deploy`)."""

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def cors_names_its_origins(app_configs, **kwargs):
    if not settings.CORS_ALLOW_ALL_ORIGINS:
        return []
    return [
        checks.Warning(
            "CORS_ALLOWED_ORIGINS contains '*': any web page may call the API from its visitors' browsers "
            "(without credentials: the browser session works for no origin then).",
            hint="List the web app's origins instead, e.g. CORS_ALLOWED_ORIGINS=https://app.example.",
            id="resee.W002",
        )
    ]


@checks.register(checks.Tags.security)
def cors_credentials_name_their_origins(app_configs, **kwargs):
    # Note: django-cors-headers answers '*' with credentials by echoing the caller's origin: any
    # page could then use a visitor's refresh cookie. Settings never pair them; an edit might.
    if not (settings.CORS_ALLOW_CREDENTIALS and settings.CORS_ALLOW_ALL_ORIGINS):
        return []
    return [
        checks.Error(
            "CORS_ALLOW_CREDENTIALS is on with CORS_ALLOW_ALL_ORIGINS: every origin may send the visitor's cookies.",
            hint="Credentials go to the origins CORS_ALLOWED_ORIGINS lists, never with '*'.",
            id="resee.E003",
        )
    ]
