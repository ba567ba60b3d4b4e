from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "analytics"

    def ready(self) -> None:
        from analytics.selectors import stats_read
        from utils.cache_utils import STATS, reads

        reads.register_warm(STATS, lambda user_id: stats_read(user_id=user_id))
