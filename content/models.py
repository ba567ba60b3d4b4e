from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from utils.cache_utils.policy import PolicedQuerySet


class Category(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="categories")
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, allow_unicode=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PolicedQuerySet.as_manager()  # bulk writes bump what utils.cache_utils.policy says

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["owner", "slug"], name="category_slug_unique_per_owner")]

    def __str__(self) -> str:
        return self.name


class Content(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contents")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="contents")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PolicedQuerySet.as_manager()  # bulk writes bump what utils.cache_utils.policy says

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        # Note: the API checks this in content.services; this covers the admin, whose form offers
        # every category. A card in another user's category would leak across users' caches.
        if self.category_id and self.category.owner_id != self.owner_id:
            raise ValidationError({"category": "The category belongs to another user."})
