"""Shared fixtures. Every test starts with empty caches (only this run's keys are touched) and
talks to the API through a client that runs on-commit hooks, as a real request's commit would."""

import os
from contextlib import ExitStack

import pytest
import redis
from django.conf import settings
from django.test import override_settings
from fakeredis import FakeRedisConnection
from rest_framework.test import APIClient

from accounts import authentication
from resee import jobs
from tests.helpers import DEFAULT_PASSWORD
from tests.servers import RedisClusterServers, cluster_mode, delete_this_runs_keys, forget_pools
from utils import redis_layer
from utils.cache_utils import invalidation, l1, store
from utils.redis_layer import RedisLayer


def real_servers_missing() -> list[str]:
    missing = []
    if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        missing.append("PostgreSQL (set DATABASE_URL)")
    if settings.REDIS_EMBEDDED:
        missing.append("Redis (set REDIS_URL)")
    return missing


@pytest.hookimpl(trylast=True)  # after `-m` deselection, so only selected tests count
def pytest_collection_modifyitems(config, items):
    missing = real_servers_missing()
    if not missing:
        return
    reason = "integration test needs the real " + " and ".join(missing)
    integration = [item for item in items if item.get_closest_marker("integration")]
    if integration and os.environ.get("CI"):
        # In CI a missing server is a failure, never a silent skip.
        raise pytest.UsageError(f"CI=true but {reason} ({len(integration)} tests)")
    for item in integration:
        item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI a skip is a failure: CI has every server and program, so a test that skips there
    is a test that silently stopped running."""
    report = (yield).get_result()
    if os.environ.get("CI") and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome, report.longrepr = "failed", f"CI runs every test, but this one skipped: {reason}"


@pytest.fixture(autouse=True)
def jobs_finished():
    """A job a test queued in this process (JOBS_IN_PROCESS, the embedded default) ends before
    the next test starts: its thread shares the in-memory SQLite database, whose table locks
    failed a later test's first query ("database table is locked")."""
    yield
    if jobs._threads.cache_info().currsize:  # Note: a thread was started; one worker, in order
        jobs._threads().submit(lambda: None).result(timeout=60)


@pytest.fixture(autouse=True)
def empty_caches():
    delete_this_runs_keys()
    authentication._pending.clear()
    # Note: bumps pending from an earlier test's rolled-back transaction would ride with this test's first commit.
    invalidation._pending_bumps.__init__()
    l1.reset()
    with redis_layer.use(RedisLayer()):  # as in a new process
        yield


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory):
    """A 3-master Redis Cluster of this test process, for the tests that run on every topology."""
    cluster = RedisClusterServers(tmp_path_factory.mktemp("redis-cluster"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=[redis_layer.STANDALONE, redis_layer.CLUSTER])
def redis_topology(request):
    """Run the test on each Redis topology: the one configured (a standalone server or the
    embedded fakeredis), then a Redis Cluster of three masters (REDIS_MODE=cluster), which
    holds every purpose in one keyspace. A module opts in with
    `pytestmark = pytest.mark.usefixtures("redis_topology")`."""
    if request.param == redis_layer.STANDALONE:
        yield request.param
        return
    with cluster_mode(request.getfixturevalue("redis_cluster")):
        yield request.param


@pytest.fixture
def swap_redis():
    """`swap_redis(cache=BrokenRedis())`: stand-ins for purposes' Redis clients until the test
    ends (with those swapped before), through utils.redis_layer.use, the one seam."""
    with ExitStack() as stack:

        def swap(**clients):
            stand_ins = {**redis_layer.current().stand_ins, **clients}
            stack.enter_context(redis_layer.use(RedisLayer(stand_ins=stand_ins)))

        yield swap


class Api(APIClient):
    """An APIClient whose requests commit: on-commit callbacks (cache invalidation, revocation
    propagation) run when the request ends, even inside the test's rolled-back transaction."""

    def __init__(self, capture, **kwargs):
        super().__init__(**kwargs)
        self._capture = capture

    def generic(self, *args, **kwargs):
        with self._capture(execute=True):
            return super().generic(*args, **kwargs)

    def login(self, username: str, password: str = DEFAULT_PASSWORD) -> dict:
        response = self.post("/api/auth/token/", {"username": username, "password": password})
        assert response.status_code == 200, response.content
        tokens = response.json()
        self.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        return tokens


@pytest.fixture
def anon(db, django_capture_on_commit_callbacks):
    return Api(django_capture_on_commit_callbacks)


@pytest.fixture
def make_user(db, django_user_model):
    def make(username: str = "alice", password: str = DEFAULT_PASSWORD, **fields):
        return django_user_model.objects.create_user(username=username, password=password, **fields)

    return make


@pytest.fixture
def make_client(make_user, django_capture_on_commit_callbacks):
    """A logged-in client for a new user: `client = make_client("bob")`; `client.user`, `client.tokens`."""

    def make(username: str = "alice"):
        client = Api(django_capture_on_commit_callbacks)
        client.user = make_user(username)
        client.tokens = client.login(username)
        return client

    return make


@pytest.fixture
def alice(make_client):
    return make_client("alice")


@pytest.fixture
def bob(make_client):
    return make_client("bob")


def _counting(sent: list):
    """settings.CACHES with a connection class that records every packet it sends: one per
    round trip (a pipeline is sent in one go), whatever the purpose or database. A new
    connection's handshake (CLIENT SETINFO, SELECT) is counted too: tests count after a warm-up."""
    base = FakeRedisConnection if settings.REDIS_EMBEDDED else redis.Connection

    class Counting(base):
        def send_packed_command(self, command, check_health=True):
            sent.append(self.db)
            return super().send_packed_command(command, check_health=False)

    pointed = {}
    for alias, config in settings.CACHES.items():
        pool = {"connection_class": Counting}
        pointed[alias] = {**config, "OPTIONS": {**config["OPTIONS"], "CONNECTION_POOL_KWARGS": pool}}
    return override_settings(CACHES=pointed)


@pytest.fixture
def round_trips():
    """The Redis round trips of the test so far, one database number per packet sent."""
    sent: list = []
    forget_pools()
    try:
        with _counting(sent):
            yield sent
    finally:
        forget_pools()


@pytest.fixture
def queued_jobs(monkeypatch) -> list[tuple[str, str]]:
    """The jobs queued, as (kind, job_id), held rather than run: the test runs them as a worker
    would (resee.jobs.run), when it chooses."""
    held: list[tuple[str, str]] = []
    monkeypatch.setattr(jobs, "enqueue", lambda *, kind, job_id: held.append((kind, job_id)))
    return held


@pytest.fixture
def bump_calls(monkeypatch):
    """Every namespace bump sent to Redis, as (user_id, namespaces); the bumps still happen."""
    calls, real_bump = [], store.bump

    def recording_bump(*, user_id, namespaces):
        calls.append((user_id, tuple(namespaces)))
        real_bump(user_id=user_id, namespaces=namespaces)

    monkeypatch.setattr(store, "bump", recording_bump)
    return calls
