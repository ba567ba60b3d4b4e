from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.views import APIView

from analytics.selectors import stats_for
from utils import clock
from utils.cache_utils import STATS, serve
from utils.cache_utils.reads import CachedRead

StatsSchema = inline_serializer(
    "Stats",
    {
        "total_contents": serializers.IntegerField(),
        "total_reviews": serializers.IntegerField(),
        "reviews_today": serializers.IntegerField(),
        "success_rate": serializers.FloatField(allow_null=True),
        "success_rate_by_category": serializers.ListField(child=serializers.DictField()),
        "current_streak_days": serializers.IntegerField(),
        "reviews_per_day": serializers.ListField(child=serializers.DictField()),
    },
)


def stats_read_for(*, user_id: int) -> CachedRead:
    """The cached stats: key parameters and computation, shared by StatsApi and
    `manage.py cache_warm` so that a warmed entry is the one a GET looks up."""
    today = clock.local_today()
    return CachedRead(
        user_id=user_id,
        namespace=STATS,
        params={"date": today},
        compute=lambda: stats_for(user_id=user_id, today=today),
    )


class StatsApi(APIView):
    def cached_read(self, request) -> CachedRead:
        return stats_read_for(user_id=request.user.id)

    @extend_schema(responses=StatsSchema)
    def get(self, request):
        return serve(self, request)
