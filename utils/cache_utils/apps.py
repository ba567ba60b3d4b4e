from django.apps import AppConfig


class CacheConfig(AppConfig):
    name = "utils.cache_utils"
    label = "cache"
    verbose_name = "API cache"
