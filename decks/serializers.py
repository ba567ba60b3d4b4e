from rest_framework import serializers

from decks.models import ImportJob
from utils.strict import StrictSerializer


class ImportUploadSerializer(StrictSerializer):
    file = serializers.FileField(
        help_text="CSV (UTF-8, header front,back[,category]) or an Anki .apkg / .colpkg.",
        allow_empty_file=True,  # the reader says what an empty file lacks
        error_messages={"required": "No file was submitted (multipart field `file`)."},
    )


class ImportCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status_url = serializers.URLField()


class ImportProgressSerializer(serializers.Serializer):
    """What decks.progress keeps (documentation of the answer; the view returns it as stored)."""

    id = serializers.UUIDField()
    state = serializers.ChoiceField(choices=ImportJob.STATES)
    processed = serializers.IntegerField(help_text="Notes or rows looked at so far.")
    total = serializers.IntegerField()
    created = serializers.IntegerField(help_text="Cards created so far (committed).")
    skipped = serializers.IntegerField(help_text="Cards already there, or rows with a problem.")
    reviews = serializers.IntegerField(help_text="Answers of the created cards' history imported so far.")
    reviews_skipped = serializers.IntegerField(
        help_text="Entries of the created cards' review log that are no answers (manual reschedules): left out."
    )
    media = serializers.IntegerField(help_text="Media files in the package: counted, not stored.")
    errors = serializers.ListField(child=serializers.CharField(), help_text="The first 20 problems.")
    message = serializers.CharField()
    updated_at = serializers.DateTimeField()


class ExportParamsSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=["csv", "apkg"], default="csv")
