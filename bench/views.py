"""The comparison views of the in-process hit-path bench (mounted by bench/urls.py only).

- floor: the same APIView base as the real views, so the same middleware, JWT authentication,
  permission and throttle classes run; the view answers bytes computed beforehand (the very body
  a hit serves) as an HttpResponse. Nothing a cached endpoint could skip: the cost any
  authenticated endpoint pays.
- limit: a plain Django view behind no middleware (bench.hitpath's bare handler): it verifies the
  same JWT, sends the very Redis commands a real hit of that user sent, packed in one round trip
  as it was (recorded by bench.counting: revocation, throttle and lookup), and answers the stored
  body. It does not parse the entry: its layout is the cache's business.
  What no implementation of a strictly fresh, authenticated, rate-limited hit can go below.
"""

from django.http import HttpResponse
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken

# (endpoint, user id) -> the body the floor and the limit answer; filled by bench.hitpath.
FLOOR_BODIES: dict[tuple[str, int], bytes] = {}
# (endpoint, user id) -> [(connection, [command args, ...])]: a real hit's round trip(s).
LIMIT_TRIPS: dict[tuple[str, int], list] = {}


class FloorApi(APIView):
    endpoint = ""

    def get(self, request):
        return HttpResponse(FLOOR_BODIES[(self.endpoint, request.user.id)], content_type="application/json")


def limit_view(request, endpoint: str):
    token = AccessToken(request.META["HTTP_AUTHORIZATION"][7:])  # signature, expiry, type
    user_id = int(token["user_id"])
    for connection, commands in LIMIT_TRIPS[(endpoint, user_id)]:
        connection.send_packed_command(connection.pack_commands(commands))
        for _ in commands:
            connection.read_response()
    return HttpResponse(FLOOR_BODIES[(endpoint, user_id)], content_type="application/json")
