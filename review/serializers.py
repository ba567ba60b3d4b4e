from rest_framework import serializers

from content.serializers import CategorySerializer
from review.models import ReviewHistory, ReviewSchedule, State
from utils.fields import id_field
from utils.pagination import PageSerializer
from utils.strict import StrictSerializer


class ReviewCompleteSerializer(StrictSerializer):
    content_id = id_field()
    result = serializers.ChoiceField(choices=ReviewHistory.RESULTS)
    time_spent_seconds = serializers.IntegerField(min_value=0, max_value=24 * 3600, required=False, allow_null=True)


class ScheduleSerializer(serializers.ModelSerializer):
    content_id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(source="content.title", read_only=True)
    reviews = serializers.IntegerField(read_only=True, help_text="The card's reviews so far.")
    lapses = serializers.IntegerField(
        read_only=True, help_text="Times the card was answered `again` once learned (its first review is not one)."
    )
    leech = serializers.BooleanField(
        source="is_leech", read_only=True, help_text="Lapses at or above the leech threshold (default 8)."
    )

    class Meta:
        model = ReviewSchedule
        fields = [
            "id",
            "content_id",
            "title",
            "interval_step",
            "next_review_date",
            "is_active",
            "initial_review_completed",
            "reviews",
            "lapses",
            "leech",
            "updated_at",
        ]
        read_only_fields = fields


class ScheduleUpdateSerializer(StrictSerializer):
    is_active = serializers.BooleanField()


class HistorySerializer(serializers.ModelSerializer):
    content_id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(source="content.title", read_only=True)

    class Meta:
        model = ReviewHistory
        fields = ["id", "content_id", "title", "result", "time_spent_seconds", "reviewed_at"]
        read_only_fields = fields


class IntervalsSerializer(serializers.Serializer):
    """Seconds after now each grade would bring the card back: for FSRS exactly what that answer
    would do now (fuzz included); on the ladder the days of the rung it leads to."""

    again = serializers.IntegerField()
    hard = serializers.IntegerField()
    good = serializers.IntegerField()
    easy = serializers.IntegerField()


class UndoSerializer(serializers.Serializer):
    """What POST /api/review/undo/ answers: the schedule as restored, and the answer taken back."""

    schedule = ScheduleSerializer(help_text="The card's schedule, as it was before the answer.")
    undone = HistorySerializer(source="review", help_text="The answer taken back (its history row is gone).")


class TodayItemSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The schedule's id.")
    content_id = serializers.IntegerField()
    title = serializers.CharField()
    body = serializers.CharField(allow_blank=True)
    category = CategorySerializer(allow_null=True)
    interval_step = serializers.IntegerField()
    next_review_date = serializers.DateField()
    initial_review_completed = serializers.BooleanField()
    state = serializers.ChoiceField(
        choices=State.labels,
        help_text="new: never reviewed; learning, relearning: on its steps, due at `due_at`; review: due on its day.",
    )
    due_at = serializers.DateTimeField(
        allow_null=True,
        help_text="The moment (ISO 8601, UTC) the card is due, for a card due within a day (its learning or "
        "relearning steps); null for a card due on a day (`next_review_date`).",
    )
    intervals = IntervalsSerializer(help_text="What each grade would do: the previews a review screen shows.")


class TodaySerializer(PageSerializer):
    """Documents the payload `today_reviews_for` builds; not used to render it."""

    results = TodayItemSerializer(many=True)
    count = serializers.IntegerField(help_text="Cards the learner sees today (within the filter), after the limits.")
    total_count = serializers.IntegerField(help_text="Active cards, due or not.")
