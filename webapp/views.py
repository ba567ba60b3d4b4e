"""The page that loads the web app. Everything else it needs is a static file (WhiteNoise) or a
call of the public API, on this same origin."""

from django.shortcuts import render
from django.views.decorators.http import require_safe

# Note: the app's own origin only: no inline script or style, no CDN, no web font, no frame.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@require_safe
def index(request):
    response = render(request, "webapp/index.html")
    response["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    return response
