from rest_framework import serializers

from content.models import Category, Content
from utils.fields import UnicodeSlugField, id_field
from utils.strict import StrictModelSerializer

CONTENT_ORDERINGS = ["created_at", "-created_at", "updated_at", "-updated_at", "title", "-title"]


class CategorySerializer(StrictModelSerializer):
    slug = UnicodeSlugField(max_length=100, required=False)

    class Meta:
        model = Category
        fields = ["id", "name", "slug"]


class ContentSerializer(serializers.ModelSerializer):
    category = CategorySerializer(read_only=True, allow_null=True)

    class Meta:
        model = Content
        fields = ["id", "title", "body", "category", "created_at", "updated_at"]


class ContentWriteSerializer(StrictModelSerializer):
    # Note: cards are meant to be short; the cap keeps one card from bloating every cached page.
    body = serializers.CharField(max_length=20_000, allow_blank=True, required=False, trim_whitespace=False)
    category_id = id_field(allow_null=True, required=False)

    class Meta:
        model = Content
        fields = ["title", "body", "category_id"]


class ContentListParamsSerializer(serializers.Serializer):
    category_slug = UnicodeSlugField(max_length=100, required=False)
    search = serializers.CharField(max_length=200, required=False, allow_blank=True)
    ordering = serializers.ChoiceField(choices=CONTENT_ORDERINGS, required=False, default="-created_at")


class CategoryFilterSerializer(serializers.Serializer):
    category_slug = UnicodeSlugField(max_length=100, required=False)
