"""The browser session: the refresh token in an HttpOnly cookie, out of JavaScript's reach, while
the access token travels in the JSON and the Authorization header as for every client.

The cookie is SameSite=Strict, Secure outside DEBUG and sent only to the auth paths. A call that
reads it must come from an origin the API trusts (the request's own, or one of
CORS_ALLOWED_ORIGINS), stated in its Origin header: browsers send one with every POST and
DELETE, and another site cannot forge it. That, on top of SameSite and JSON-only bodies, is the
defence against cross-site request forgery; no CSRF token is needed."""

from django.conf import settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

NAME = "resee_refresh"
PATH = "/api/auth/"


def trusted_origin(request) -> bool:
    origin = request.headers.get("Origin")
    own = f"{request.scheme}://{request.get_host()}"
    return origin is not None and (origin == own or origin in settings.CORS_ALLOWED_ORIGINS)


def check_origin(request) -> None:
    if not trusted_origin(request):
        raise PermissionDenied("The browser session takes calls from the API's trusted origins only (Origin header).")


def read(request) -> str | None:
    """The refresh cookie's token, if the request carries one, from a trusted origin."""
    raw = request.COOKIES.get(NAME)
    if raw:
        check_origin(request)
    return raw or None


def store(response: Response, raw_refresh: str) -> Response:
    response.set_cookie(
        NAME,
        raw_refresh,
        max_age=int(settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"].total_seconds()),
        path=PATH,
        secure=settings.REFRESH_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


def clear(response: Response) -> Response:
    response.delete_cookie(NAME, path=PATH, samesite="Strict")
    return response


def answer(pair: dict, *, in_cookie: bool) -> Response:
    """A token pair as the session wants it: both in the body, or the refresh token in the cookie."""
    if not in_cookie:
        return Response(pair)
    return store(Response({"access": pair["access"]}), pair["refresh"])
