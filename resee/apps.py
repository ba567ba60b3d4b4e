from django.apps import AppConfig


class ReseeConfig(AppConfig):
    name = "resee"

    def ready(self) -> None:
        from resee import checks, metrics  # noqa: F401 - they register their deploy checks
