"""The production server as deployed (`python -m resee.serve`: uWSGI, 2 workers) on a free
loopback port: /metrics adds up both workers, a dead worker's gauge drops out, SIGTERM lets a
request in flight finish, keep-alive connections are closed now and then so that clients spread
over the workers again, and without REDIS_URL the workers share one embedded Redis."""

import http.client
import os
import signal
import socket
import time

import pytest
from prometheus_client.multiprocess import MultiProcessCollector

from resee.serve import arguments, options
from tests.servers import DeployedServer, app_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

HEALTH = "/api/health/"


REQUESTS = "django_http_requests_total_by_method"


def counted(families, name: str, **labels: str) -> float:
    """The counter `name`'s samples with `labels`, added up, in the given metric families."""
    return sum(
        sample.value
        for family in families
        if family.name == name
        for sample in family.samples
        if sample.name.endswith("_total") and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def per_worker(directory, pid: int, name: str = REQUESTS, **labels: str) -> float:
    """What the worker `pid` counted in its own file (0 before it wrote one)."""
    path = directory / f"counter_{pid}.db"
    return counted(MultiProcessCollector.merge([str(path)]) if path.exists() else [], name, **labels)


def scraped(server: DeployedServer) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    status, _, body = server.request("GET", "/metrics")
    assert status == 200
    return counted(text_string_to_metric_families(body.decode()), REQUESTS, method="GET")


def test_the_deployed_settings_are_two_workers_recycled_and_stopped_gracefully(monkeypatch):
    for name in ("WEB_CONCURRENCY", "WEB_THREADS", "WEB_WORKER_LIFETIME", "WEB_GRACEFUL_TIMEOUT", "WEB_ACCESS_LOG"):
        monkeypatch.delenv(name, raising=False)
    settings = options()
    assert settings["processes"] == 2 and settings["threads"] == 4 and settings["lazy-apps"]
    assert settings["max-worker-lifetime"] == 3600 and settings["reload-on-rss"] == 320
    # uWSGI's own SIGTERM reloads the workers; the deployment's SIGTERM must stop them gracefully.
    assert settings["hook-master-start"] == "unix_signal:15 gracefully_kill_them_all"
    assert settings["worker-reload-mercy"] == 20 and "die-on-term" not in settings
    assert "disable-logging" not in settings


def test_zero_turns_recycling_and_the_access_log_off(monkeypatch):
    monkeypatch.setenv("WEB_WORKER_LIFETIME", "0")
    monkeypatch.setenv("WEB_WORKER_MAX_RSS_MB", "0")
    monkeypatch.setenv("WEB_ACCESS_LOG", "0")
    line = arguments(options())
    assert "--max-worker-lifetime" not in line and "--reload-on-rss" not in line
    assert "--disable-logging" in line and line[line.index("--processes") + 1] == "2"


def test_metrics_add_up_every_worker_and_drop_a_dead_workers_gauge(tmp_path):
    directory = tmp_path / "metrics"
    with DeployedServer(tmp_path, app_env(PROMETHEUS_MULTIPROC_DIR=str(directory))) as server:
        workers = server.worker_pids()
        assert len(workers) == 2
        made = 0
        while not all(per_worker(directory, pid, method="GET") for pid in workers):
            assert made < 400, f"one worker served all {made} requests:\n{server.log_tail()}"
            for _ in range(20):
                assert server.request("GET", HEALTH)[0] == 200
            made += 20
        total = scraped(server)
        assert total == sum(
            per_worker(directory, pid, method="GET") for pid in workers
        )  # the scrape counted itself first
        assert total >= made

        victim = min(workers)
        assert list(directory.glob(f"gauge_live*_{victim}.db")), "the breaker gauge is written by every worker"
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while len(server.worker_pids()) < 2 or victim in server.worker_pids():
            assert time.monotonic() < deadline, f"the dead worker was not replaced:\n{server.log_tail()}"
            time.sleep(0.2)
        assert scraped(server) >= total  # the dead worker's counts stay in the total
        assert not list(directory.glob(f"gauge_live*_{victim}.db"))


def test_sigterm_lets_a_request_in_flight_finish_then_exits(tmp_path):
    with DeployedServer(tmp_path, app_env()) as server:
        body = b'{"username": "nobody", "password": "wrong"}'
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
            head = (
                f"POST /api/auth/token/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode()
            sock.sendall(head + body[:5])
            time.sleep(0.5)
            server.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            sock.sendall(body[5:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 401"), answer[:300]  # answered (bad credentials), not dropped
        assert server.proc.wait(timeout=30) == 0, server.log_tail()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_a_keep_alive_connection_is_closed_after_about_keepalive_requests(tmp_path):
    with DeployedServer(tmp_path, app_env(WEB_KEEPALIVE_REQUESTS="4"), workers=1) as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        closed = 0
        try:
            for _ in range(200):
                conn.request("GET", HEALTH)
                response = conn.getresponse()
                response.read()
                assert response.status == 200
                closed += response.getheader("Connection") == "close" and conn.sock is None
        finally:
            conn.close()
    assert 20 <= closed <= 90  # 1 in 4 on average: 50


def test_without_redis_url_the_workers_share_one_embedded_redis(make_client, tmp_path):
    """`make serve` on a bare machine: the entry one worker stored is a hit on the other."""
    token = make_client("alice").tokens["access"]
    directory = tmp_path / "metrics"
    env = app_env(PROMETHEUS_MULTIPROC_DIR=str(directory), REDIS_MODE="standalone")
    env.pop("REDIS_URL", None)
    with DeployedServer(tmp_path, env) as server:
        workers, answers = server.worker_pids(), []
        assert len(workers) == 2, server.log_tail()
        while not all(per_worker(directory, pid, "resee_cache_requests") for pid in workers):
            assert len(answers) < 400, f"one worker served all {len(answers)} requests:\n{server.log_tail()}"
            status, headers, _ = server.request("GET", "/api/review/today/", token=token)
            assert status == 200
            answers.append(headers["X-Cache"])
    assert answers.count("MISS") == 1, answers


def test_headers_up_to_the_buffer_are_read_and_beyond_it_the_connection_is_closed(tmp_path):
    """uWSGI reads a request's headers into one buffer (buffer-size): 20 KB of cookies is served;
    past the buffer there is no answer, and the worker serves on."""
    with DeployedServer(tmp_path, app_env(), workers=1) as server:
        statuses = {}
        for size in (20_000, 40_000):
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            try:
                conn.request("GET", HEALTH, headers={"Cookie": "x=" + "a" * size})
                statuses[size] = conn.getresponse().status
            except (http.client.RemoteDisconnected, ConnectionResetError):
                statuses[size] = None
            finally:
                conn.close()
        assert statuses == {20_000: 200, 40_000: None}
        assert server.request("GET", HEALTH)[0] == 200
