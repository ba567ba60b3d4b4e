from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from content.serializers import CategoryFilterSerializer
from review import selectors, services
from review.serializers import (
    HistorySerializer,
    ReviewCompleteSerializer,
    ScheduleSerializer,
    ScheduleUpdateSerializer,
    TodaySerializer,
    UndoSerializer,
)
from utils.cache_utils.read_path import CachedReadMixin
from utils.cache_utils.reads import CachedRead
from utils.idempotency.decorators import IDEMPOTENCY_KEY, idempotent
from utils.pagination import PageParamsSerializer
from utils.params import PAGE_PARAMS, page_params, validated_query
from utils.schema import ErrorSerializer
from utils.strict import NoFields, validated


@extend_schema_view(
    get=extend_schema(
        parameters=[CategoryFilterSerializer, PageParamsSerializer],
        responses={200: TodaySerializer, 404: OpenApiResponse(ErrorSerializer, "A page past the end.")},
        description="The cards due on or before the learner's day (`time_zone`, `day_starts_at_hour` on "
        "/api/auth/me/), within the daily limits as Anki applies them: review cards up to `reviews_per_day` "
        "less today's reviews; new cards, oldest first, up to `new_cards_per_day` less those introduced "
        "today, and none once the review limit is reached.",
    )
)
class TodayApi(CachedReadMixin, APIView):
    def cached_read(self, request) -> CachedRead:
        page, page_size = page_params(request)
        return selectors.today_read(
            user_id=request.user.id,
            category_slug=validated_query(CategoryFilterSerializer, request, also=PAGE_PARAMS).get("category_slug"),
            page=page,
            page_size=page_size,
            base_url=request.build_absolute_uri(request.path),
        )


class ReviewCompleteApi(APIView):
    @extend_schema(
        request=ReviewCompleteSerializer,
        parameters=[IDEMPOTENCY_KEY],
        responses={200: ScheduleSerializer, 404: OpenApiResponse(ErrorSerializer, "No such card of yours.")},
    )
    @idempotent
    def post(self, request):
        data = validated(ReviewCompleteSerializer, request.data)
        schedule = services.review_complete(user_id=request.user.id, **data)
        return Response(ScheduleSerializer(schedule).data)  # the row as saved, its card read under the lock


class ReviewUndoApi(APIView):
    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            200: UndoSerializer,
            409: OpenApiResponse(ErrorSerializer, "Nothing to undo: no answer left within reach."),
        },
        description="Takes back your most recent answer: its card's schedule and counts, its history row, "
        "your day's tally and every answer that shows them are as they were before it. A second undo takes "
        f"back the answer before, up to {services.UNDO_DEPTH} answers back (those taken back count) and "
        f"within {services.UNDO_WINDOW.total_seconds() / 3600:.0f} hours; imported reviews are not "
        "answers and are never taken back. Takes no body.",
    )
    @idempotent
    def post(self, request):
        validated(NoFields, request.data)
        return Response(UndoSerializer(services.review_undo(user_id=request.user.id)).data)


class ScheduleListApi(ListAPIView):
    serializer_class = ScheduleSerializer

    def get_queryset(self):
        return selectors.schedule_list_for(user_id=self.request.user.id)


class ScheduleDetailApi(GenericAPIView):
    serializer_class = ScheduleSerializer

    def get(self, request, pk: int):
        schedule = selectors.schedule_by_id_for(user_id=request.user.id, schedule_id=pk)
        validated_query(NoFields, request)
        return Response(ScheduleSerializer(schedule).data)

    @extend_schema(request=ScheduleUpdateSerializer, responses=ScheduleSerializer)
    def patch(self, request, pk: int):
        schedule = selectors.schedule_by_id_for(user_id=request.user.id, schedule_id=pk)
        schedule = services.schedule_set_active(schedule=schedule, **validated(ScheduleUpdateSerializer, request.data))
        return Response(ScheduleSerializer(schedule).data)


@extend_schema_view(
    get=extend_schema(
        description="Leeches: the cards answered `again` once learned at least `LEECH_LAPSES` times (default 8), "
        "paused ones included, most lapses first; the cards worth rewriting rather than drilling."
    )
)
class LeechListApi(ListAPIView):
    serializer_class = ScheduleSerializer

    def get_queryset(self):
        return selectors.leech_list_for(user_id=self.request.user.id)


class HistoryListApi(ListAPIView):
    serializer_class = HistorySerializer

    def get_queryset(self):
        return selectors.history_list_for(user_id=self.request.user.id)
