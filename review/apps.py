from django.apps import AppConfig


class ReviewConfig(AppConfig):
    name = "review"

    def ready(self) -> None:
        from review import selectors
        from utils.cache_utils import TODAY, reads

        reads.register_warm(TODAY, lambda user_id: selectors.today_shared_read(user_id=user_id))
        reads.register_active_users(selectors.recently_active_user_ids)
