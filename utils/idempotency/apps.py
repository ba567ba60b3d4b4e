from django.apps import AppConfig


class IdempotencyConfig(AppConfig):
    name = "utils.idempotency"
    label = "idempotency"
    verbose_name = "Idempotent requests"
