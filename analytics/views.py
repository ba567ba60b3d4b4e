from drf_spectacular.utils import extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from analytics.selectors import stats_read
from utils.cache_utils.read_path import CachedReadMixin
from utils.cache_utils.reads import CachedRead
from utils.params import validated_query
from utils.strict import NoFields

SUCCESS_RATE = "Percent of reviews answered good or easy (`remembered`), one decimal; null with no reviews."
RETENTION = (
    "Percent of reviews passed, hard included (`partial`), as FSRS counts a recall and as its desired "
    "retention means it; one decimal, null with no reviews."
)

SummarySchema = inline_serializer(
    "StatsSummary",
    {
        "due": serializers.IntegerField(help_text="Active cards due today, overdue ones included."),
        "overdue": serializers.IntegerField(help_text="Active cards due before today."),
        "new": serializers.IntegerField(help_text="Active cards never reviewed."),
        "reviews_today": serializers.IntegerField(),
        "reviews_last_30_days": serializers.IntegerField(),
        "success_rate": serializers.FloatField(allow_null=True, help_text=SUCCESS_RATE),
        "retention": serializers.FloatField(allow_null=True, help_text=RETENTION),
        "current_streak_days": serializers.IntegerField(),
        "leeches": serializers.IntegerField(
            help_text="Cards answered `again` once learned `LEECH_LAPSES` times or more (default 8), "
            "paused ones included: GET /api/review/leeches/ lists them."
        ),
    },
)

CategoryRatesSchema = inline_serializer(
    "StatsCategoryRates",
    {
        "category_id": serializers.IntegerField(allow_null=True, help_text="Null for uncategorised cards."),
        "slug": serializers.CharField(allow_null=True),
        "name": serializers.CharField(allow_null=True),
        "reviews": serializers.IntegerField(),
        "success_rate": serializers.FloatField(help_text=SUCCESS_RATE),
        "retention": serializers.FloatField(help_text=RETENTION),
    },
    many=True,
    help_text="Categories with reviews only.",
)

StatsSchema = inline_serializer(
    "Stats",
    {
        "summary": SummarySchema,
        "total_contents": serializers.IntegerField(),
        "total_reviews": serializers.IntegerField(),
        "reviews_today": serializers.IntegerField(),
        "success_rate": serializers.FloatField(allow_null=True, help_text=SUCCESS_RATE),
        "retention": serializers.FloatField(allow_null=True, help_text=RETENTION),
        "success_rate_by_category": CategoryRatesSchema,
        "current_streak_days": serializers.IntegerField(),
        "reviews_per_day": serializers.ListField(child=serializers.DictField()),
        "days_recounting": serializers.BooleanField(
            help_text="The learner's past reviews are being recounted into the days of their new time zone or "
            "hour (a background job): the days shown are still the old ones until it is false."
        ),
    },
)


@extend_schema_view(get=extend_schema(responses=StatsSchema))
class StatsApi(CachedReadMixin, APIView):
    def cached_read(self, request) -> CachedRead:
        validated_query(NoFields, request)
        return stats_read(user_id=request.user.id)
