from django.apps import AppConfig


class WebappConfig(AppConfig):
    """The learners' web app: one page at `/`, its modules and styles served by WhiteNoise."""

    name = "webapp"
