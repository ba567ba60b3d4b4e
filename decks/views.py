import tempfile

from django.http import FileResponse, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from decks import selectors, services, writers
from decks.progress import progress_read
from decks.serializers import (
    ExportParamsSerializer,
    ImportCreatedSerializer,
    ImportProgressSerializer,
    ImportUploadSerializer,
)
from resee import jobs
from utils.conf import resee_setting
from utils.idempotency.decorators import IDEMPOTENCY_KEY, forget, idempotent
from utils.params import validated_query
from utils.strict import NoFields, validated

# Note: room for the multipart envelope around the file, so the file itself may use the whole cap.
MULTIPART_ALLOWANCE = 64 * 1024


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


class QueueDown(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The job queue is unavailable; nothing was imported. Please retry shortly."
    default_code = "queue_unavailable"


def _refuse_oversized(size: int) -> None:
    cap = resee_setting("IMPORT_MAX_UPLOAD_BYTES")
    if size > cap:
        raise UploadTooLarge(f"The file is larger than {cap // 2**20} MB, the limit of an import.")


def _declared_length(request) -> int:
    """The body's Content-Length; 0 when absent or malformed (as Django reads it)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ImportCreateApi(APIView):
    parser_classes = [MultiPartParser]
    throttle_scope = "imports"

    @extend_schema(
        request={"multipart/form-data": ImportUploadSerializer},
        parameters=[IDEMPOTENCY_KEY],
        responses={202: ImportCreatedSerializer, 413: OpenApiResponse(description="The file is over the limit.")},
    )
    def post(self, request):
        # Note: before the body is read, so an oversized upload is refused without being stored.
        _refuse_oversized(_declared_length(request) - MULTIPART_ALLOWANCE)
        try:
            return self.create(request)
        except jobs.QueueUnavailable:
            forget(request)  # the job failed and imported nothing: a retry may run again
            raise QueueDown() from None

    @idempotent
    def create(self, request):
        upload = validated(ImportUploadSerializer, request.data)["file"]
        _refuse_oversized(upload.size)
        job = services.import_start(owner_id=request.user.id, file=upload, name=upload.name or "upload")
        status_url = request.build_absolute_uri(reverse("import-detail", args=[job.pk]))
        return Response(
            {"id": str(job.pk), "status_url": status_url},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": status_url},
        )


class ImportDetailApi(APIView):
    @extend_schema(responses=ImportProgressSerializer)
    def get(self, request, job_id):
        progress = progress_read(job_id=job_id, owner_id=request.user.id)
        if progress is None:
            raise NotFound()
        validated_query(NoFields, request)
        return Response(progress)


class IgnoreFormatParameter(BaseContentNegotiation):
    """`?format=` names the export's file format here, not a renderer; errors are JSON."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ExportApi(APIView):
    content_negotiation_class = IgnoreFormatParameter

    @extend_schema(
        parameters=[ExportParamsSerializer],
        responses={(200, "text/csv"): OpenApiTypes.STR, (200, "application/octet-stream"): OpenApiTypes.BINARY},
    )
    def get(self, request):
        chosen = validated_query(ExportParamsSerializer, request)["format"]
        if chosen == "csv":
            cards = selectors.export_cards(owner_id=request.user.id)
            response = StreamingHttpResponse(writers.csv_lines(cards), content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="resee-cards.csv"'
            return response
        # Note: genanki writes a file; the response streams it and closing it deletes it.
        package = tempfile.NamedTemporaryFile(suffix=".apkg")  # noqa: SIM115 (FileResponse closes it)
        writers.write_apkg(selectors.export_cards_with_history(owner_id=request.user.id), path=package.name)
        return FileResponse(
            package, as_attachment=True, filename="resee-cards.apkg", content_type="application/octet-stream"
        )
