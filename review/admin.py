from django.contrib import admin

from review.models import ReviewHistory, ReviewSchedule

admin.site.register(ReviewSchedule, list_display=["content", "owner", "interval_step", "next_review_date", "is_active"])


@admin.register(ReviewHistory)
class ReviewHistoryAdmin(admin.ModelAdmin):
    """Read only: the history is a log, and the stats count what review_complete wrote into it."""

    list_display = ["content", "user", "result", "reviewed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
