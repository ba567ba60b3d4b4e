"""/metrics on the API's own port, so behind a bearer token once one is configured: the page
names every endpoint and shows the traffic, which is nobody's business but the scraper's."""

import hmac

from django.conf import settings
from django.core import checks
from django.http import JsonResponse
from django_prometheus.exports import ExportToDjangoView


def metrics(request):
    expected = settings.METRICS_TOKEN
    if expected:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.encode(), expected.encode()):
            response = JsonResponse({"detail": "A valid metrics token is required."}, status=401)
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    return ExportToDjangoView(request)


@checks.register(checks.Tags.security, deploy=True)
def metrics_token_is_set(app_configs, **kwargs):
    if settings.METRICS_TOKEN:
        return []
    return [
        checks.Warning(
            "METRICS_TOKEN is not set, so anyone who can reach the API can read /metrics.",
            hint="Set METRICS_TOKEN and give Prometheus the same value (see README, Operations).",
            id="resee.W001",
        )
    ]
