from drf_spectacular.utils import OpenApiResponse, extend_schema
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
)
from utils.cache_utils import serve
from utils.cache_utils.reads import CachedRead
from utils.pagination import PageParamsSerializer, page_params
from utils.params import validated_query
from utils.schema import ErrorSerializer


class TodayApi(APIView):
    def cached_read(self, request) -> CachedRead:
        page, page_size = page_params(request)
        return selectors.today_read(
            user_id=request.user.id,
            category_slug=validated_query(CategoryFilterSerializer, request).get("category_slug"),
            page=page,
            page_size=page_size,
            base_url=request.build_absolute_uri(request.path),
        )

    @extend_schema(
        parameters=[CategoryFilterSerializer, PageParamsSerializer],
        responses={200: TodaySerializer, 404: OpenApiResponse(ErrorSerializer, "A page past the end.")},
    )
    def get(self, request):
        return serve(self, request)


class ReviewCompleteApi(APIView):
    @extend_schema(
        request=ReviewCompleteSerializer,
        responses={200: ScheduleSerializer, 404: OpenApiResponse(ErrorSerializer, "No such card of yours.")},
    )
    def post(self, request):
        serializer = ReviewCompleteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = services.review_complete(user_id=request.user.id, **serializer.validated_data)
        return Response(ScheduleSerializer(schedule).data)  # the row as saved, its card read under the lock


class ScheduleListApi(ListAPIView):
    serializer_class = ScheduleSerializer

    def get_queryset(self):
        return selectors.schedule_list_for(user_id=self.request.user.id)


class ScheduleDetailApi(GenericAPIView):
    serializer_class = ScheduleSerializer

    def get(self, request, pk: int):
        return Response(ScheduleSerializer(selectors.schedule_by_id_for(user_id=request.user.id, schedule_id=pk)).data)

    @extend_schema(request=ScheduleUpdateSerializer, responses=ScheduleSerializer)
    def patch(self, request, pk: int):
        schedule = selectors.schedule_by_id_for(user_id=request.user.id, schedule_id=pk)
        serializer = ScheduleUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        schedule = services.schedule_set_active(schedule=schedule, **serializer.validated_data)
        return Response(ScheduleSerializer(schedule).data)


class HistoryListApi(ListAPIView):
    serializer_class = HistorySerializer

    def get_queryset(self):
        return selectors.history_list_for(user_id=self.request.user.id)
