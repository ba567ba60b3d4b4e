from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "utils.cache_utils"
    label = "cache"
    verbose_name = "API cache"

    def ready(self):
        from utils import redis_layer
        from utils.cache_utils.invalidation import settle_debts
        from utils.cache_utils.policy import watch_models

        watch_models()  # the backstop for writes outside the services (admin, shell)

        # No answer of a Redis that was away may be used before the bumps it missed are sent.
        redis_layer.on_recovery(redis_layer.CACHE, settle_debts)
