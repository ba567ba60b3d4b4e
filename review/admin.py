from django.contrib import admin

from review.models import ReviewHistory, ReviewSchedule

admin.site.register(ReviewSchedule, list_display=["content", "owner", "interval_step", "next_review_date", "is_active"])
admin.site.register(ReviewHistory, list_display=["content", "user", "result", "reviewed_at"])
