from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from content import selectors, services
from content.serializers import (
    CategorySerializer,
    ContentListParamsSerializer,
    ContentSerializer,
    ContentWriteSerializer,
)
from utils.cache_utils.read_path import CachedReadMixin
from utils.cache_utils.reads import CachedRead
from utils.idempotency.decorators import IDEMPOTENCY_KEY, idempotent
from utils.params import PAGE_PARAMS, page_params, validated_query
from utils.strict import NoFields, validated


class CategoryListCreateApi(GenericAPIView):
    serializer_class = CategorySerializer
    pagination_class = None

    @extend_schema(responses=CategorySerializer(many=True))
    def get(self, request):
        validated_query(NoFields, request)
        categories = selectors.category_list_for(user_id=request.user.id)
        return Response(CategorySerializer(categories, many=True).data)

    @extend_schema(parameters=[IDEMPOTENCY_KEY], responses={201: CategorySerializer})
    @idempotent
    def post(self, request):
        data = validated(CategorySerializer, request.data)
        category = services.category_create(owner_id=request.user.id, **data)
        return Response(CategorySerializer(category).data, status=status.HTTP_201_CREATED)


class CategoryDetailApi(GenericAPIView):
    serializer_class = CategorySerializer

    def get(self, request, pk: int):
        category = selectors.category_get_for(user_id=request.user.id, category_id=pk)
        validated_query(NoFields, request)
        return Response(CategorySerializer(category).data)

    def put(self, request, pk: int, partial: bool = False):
        category = selectors.category_get_for(user_id=request.user.id, category_id=pk)
        data = validated(CategorySerializer, request.data, partial=partial)
        return Response(CategorySerializer(services.category_update(category=category, **data)).data)

    def patch(self, request, pk: int):
        return self.put(request, pk, partial=True)

    def delete(self, request, pk: int):
        category = selectors.category_get_for(user_id=request.user.id, category_id=pk)
        validated(NoFields, request.data)
        services.category_delete(category=category)
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(get=extend_schema(parameters=[ContentListParamsSerializer], responses=ContentSerializer(many=True)))
class ContentListCreateApi(CachedReadMixin, GenericAPIView):
    serializer_class = ContentSerializer

    def cached_read(self, request) -> CachedRead:
        page, page_size = page_params(request)
        return selectors.content_page_read(
            user_id=request.user.id,
            query=validated_query(ContentListParamsSerializer, request, also=PAGE_PARAMS),
            page=page,
            page_size=page_size,
            base_url=request.build_absolute_uri(request.path),
        )

    @extend_schema(request=ContentWriteSerializer, parameters=[IDEMPOTENCY_KEY], responses={201: ContentSerializer})
    @idempotent
    def post(self, request):
        data = validated(ContentWriteSerializer, request.data)
        content = services.content_create(owner_id=request.user.id, **data)
        return Response(ContentSerializer(content).data, status=status.HTTP_201_CREATED)


class ContentDetailApi(GenericAPIView):
    serializer_class = ContentSerializer

    def get(self, request, pk: int):
        content = selectors.content_get_for(user_id=request.user.id, content_id=pk)
        validated_query(NoFields, request)
        return Response(ContentSerializer(content).data)

    @extend_schema(request=ContentWriteSerializer, responses=ContentSerializer)
    def put(self, request, pk: int, partial: bool = False):
        content = selectors.content_get_for(user_id=request.user.id, content_id=pk)
        data = validated(ContentWriteSerializer, request.data, partial=partial)
        content = services.content_update(content=content, **data)
        return Response(
            ContentSerializer(selectors.content_get_for(user_id=request.user.id, content_id=content.pk)).data
        )

    @extend_schema(request=ContentWriteSerializer, responses=ContentSerializer)
    def patch(self, request, pk: int):
        return self.put(request, pk, partial=True)

    def delete(self, request, pk: int):
        content = selectors.content_get_for(user_id=request.user.id, content_id=pk)
        validated(NoFields, request.data)
        services.content_delete(content=content)
        return Response(status=status.HTTP_204_NO_CONTENT)
