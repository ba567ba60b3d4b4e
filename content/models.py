import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.signals import pre_save
from django.dispatch import receiver

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


def content_hash(title: str, body: str) -> str:
    """What makes two cards the same card: an import skips a note whose hash its owner has."""
    return hashlib.sha256(f"{title}\x1f{body}".encode()).hexdigest()


class ContentQuerySet(PolicedQuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        for obj in objs:
            obj.content_hash = obj.content_hash or content_hash(obj.title, obj.body)
        return super().bulk_create(objs, *args, **kwargs)

    def update(self, **changes):
        if not {"title", "body"} & changes.keys():
            return super().update(**changes)
        # Note: neither SQLite nor PostgreSQL computes sha256 the same way, so the hashes of
        # retitled rows are set in a second pass, in the same transaction.
        with transaction.atomic(using=self.db):
            pks = list(self.values_list("pk", flat=True))
            updated = super().update(**changes)
            rows = list(self.model.objects.filter(pk__in=pks).only("pk", "title", "body"))
            for row in rows:
                row.content_hash = content_hash(row.title, row.body)
            self.model.objects.bulk_update(rows, ["content_hash"], batch_size=500)
        return updated


class Content(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="contents")
    category = models.ForeignKey(Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="contents")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    # sha256 of (title, body): one card per owner (imports skip what is already there, by index).
    content_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ContentQuerySet.as_manager()  # bulk writes bump what utils.cache_utils.policy says

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]
        constraints = [models.UniqueConstraint(fields=["owner", "content_hash"], name="content_unique_per_owner")]

    def __str__(self) -> str:
        return self.title

    def clean(self) -> None:
        # Note: the API checks this in content.services; this covers the admin, whose form offers
        # every category. A card in another user's category would leak across users' caches.
        if self.category_id and self.category.owner_id != self.owner_id:
            raise ValidationError({"category": "The category belongs to another user."})


@receiver(pre_save, sender=Content, dispatch_uid="content.hash")
def _hash_on_save(sender, instance: Content, update_fields=None, **kwargs) -> None:
    """The admin's and the shell's saves; services name content_hash among the fields they save."""
    if update_fields is None:
        instance.content_hash = content_hash(instance.title, instance.body)
