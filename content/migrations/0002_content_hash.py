import hashlib

from django.db import migrations, models


def _hash(*parts) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()


def fill_hashes(apps, schema_editor):
    """Each card gets content.models.content_hash(title, body); where an owner already has the same
    card twice, the later ones get a hash salted with their id, so the unique constraint holds and
    the first copy still makes an import skip that card."""
    Content = apps.get_model("content", "Content")
    seen: set[tuple[int, str]] = set()
    rows = Content.objects.order_by("id").only("id", "owner_id", "title", "body")
    batch = []
    for row in rows.iterator(chunk_size=2000):
        digest = _hash(row.title, row.body)
        row.content_hash = digest if (row.owner_id, digest) not in seen else _hash(row.title, row.body, row.id)
        seen.add((row.owner_id, digest))
        batch.append(row)
        if len(batch) == 2000:
            Content.objects.bulk_update(batch, ["content_hash"])
            batch = []
    Content.objects.bulk_update(batch, ["content_hash"])


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="content",
            name="content_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(fill_hashes, migrations.RunPython.noop, elidable=True),
        migrations.AddConstraint(
            model_name="content",
            constraint=models.UniqueConstraint(fields=("owner", "content_hash"), name="content_unique_per_owner"),
        ),
    ]
