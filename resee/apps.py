from django.apps import AppConfig


class ReseeConfig(AppConfig):
    name = "resee"

    def ready(self) -> None:
        from resee import metrics  # noqa: F401 - registers its deploy check
