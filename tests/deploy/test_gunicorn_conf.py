"""deploy/gunicorn.conf.py under a real gunicorn: a keep-alive connection is closed after
GUNICORN_KEEPALIVE_REQUESTS requests, so that clients spread over the workers again."""

import http.client

import pytest

from tests.servers import GunicornServer, app_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_nth_request_on_a_keep_alive_connection_is_answered_with_connection_close(tmp_path):
    with GunicornServer(tmp_path, app_env(GUNICORN_KEEPALIVE_REQUESTS="3"), workers=1) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        answers = []
        try:
            for _ in range(4):
                conn.request("GET", "/api/health/")
                response = conn.getresponse()
                response.read()
                answers.append((response.status, response.getheader("Connection"), conn.sock is None))
        finally:
            conn.close()

    # The third answer closes the connection; the fourth request opens a new one, its first.
    assert answers == [
        (200, "keep-alive", False),
        (200, "keep-alive", False),
        (200, "close", True),
        (200, "keep-alive", False),
    ]
