from django.apps import AppConfig


class ContentConfig(AppConfig):
    name = "content"

    def ready(self) -> None:
        from content.selectors import content_index_read
        from utils.cache_utils import CONTENT, reads

        reads.register_refresh(CONTENT, lambda user_id: content_index_read(user_id=user_id))
