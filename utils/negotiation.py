"""Content negotiation that settles the common case at once: one JSON renderer and an Accept that
is absent, `*/*` or `application/json` (what the web app and every HTTP library send) get that
renderer without parsing media types; anything else is DRF's to decide, a 406 included."""

from rest_framework.negotiation import DefaultContentNegotiation

from utils.params import has_query

_PLAIN_ACCEPTS = frozenset({None, "*/*", "application/json"})


class PlainJSONNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        plain = (
            len(renderers) == 1
            and renderers[0].media_type == "application/json"
            and format_suffix is None
            and request.META.get("HTTP_ACCEPT") in _PLAIN_ACCEPTS
            and not (has_query(request) and self.settings.URL_FORMAT_OVERRIDE in request.query_params)
        )
        if plain:
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
