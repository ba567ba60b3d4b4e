"""utils.redis_layer: one breaker per server shared by every purpose on it, recovery hooks that run
before a purpose uses Redis again, failures counted by purpose and operation, and the layer's
state on one object that a test builds (a new layer is a process starting up)."""

from unittest import mock

import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from tests.servers import DownRedis
from utils import redis_layer
from utils.breaker import CLOSED, OPEN
from utils.cache_utils import store
from utils.cache_utils.models import InvalidationDebt
from utils.redis_layer import CACHE, REVOCATION, THROTTLE, RedisLayer, RedisUnavailable
from utils.redis_layer.failover import Failover, MasterMoved

# Note: the cache's recovery hook reads the debts table, on each test's first cache call.
pytestmark = pytest.mark.django_db


class CountingDownRedis(DownRedis):
    """A Redis that is gone, counting the commands asked of it."""

    def __init__(self):
        self.asked = 0

    def __getattr__(self, name):
        self.asked += 1
        return super().__getattr__(name)


def errors(purpose: str, operation: str) -> float:
    return REGISTRY.get_sample_value("resee_redis_errors_total", {"purpose": purpose, "operation": operation}) or 0.0


def ping(purpose: str):
    return redis_layer.call(purpose, "ping", lambda: redis_layer.client(purpose).ping())


def open_the_breaker(purpose: str, settings) -> None:
    for _ in range(settings.REDIS_BREAKER_FAILURES):
        with pytest.raises(RedisUnavailable):
            ping(purpose)


def test_failures_of_one_purpose_open_the_circuit_for_every_purpose_on_that_server(swap_redis, settings):
    down = CountingDownRedis()
    swap_redis(cache=down, throttle=down, revocation=down)  # one server
    open_the_breaker(CACHE, settings)
    asked = down.asked

    for purpose in (THROTTLE, REVOCATION, CACHE):
        with pytest.raises(RedisUnavailable, match="circuit .* open"):
            ping(purpose)
    assert down.asked == asked, "nobody may wait on a server whose circuit is open"
    assert redis_layer.breaker(THROTTLE) is redis_layer.breaker(CACHE)


def test_a_purpose_on_another_server_keeps_its_own_circuit(swap_redis, settings):
    swap_redis(cache=DownRedis())
    open_the_breaker(CACHE, settings)
    assert redis_layer.breaker(CACHE).state == OPEN
    assert ping(REVOCATION) is True
    assert redis_layer.breaker(REVOCATION).state == CLOSED


def test_each_failed_call_is_counted_by_purpose_and_operation(swap_redis):
    swap_redis(throttle=DownRedis())
    before = errors("throttle", "ping"), errors("cache", "ping")
    with pytest.raises(RedisUnavailable):
        ping(THROTTLE)
    assert (errors("throttle", "ping"), errors("cache", "ping")) == (before[0] + 1, before[1])


def test_an_exception_that_is_not_a_redis_error_is_an_answer_and_passes_through(settings):
    def answered_then_raised():
        redis_layer.client(CACHE).ping()
        raise LookupError("the caller's logic")

    for _ in range(settings.REDIS_BREAKER_FAILURES + 1):
        with pytest.raises(LookupError):
            redis_layer.call(CACHE, "lookup", answered_then_raised)
    assert redis_layer.breaker(CACHE).state == CLOSED


def test_a_debt_left_by_another_process_is_paid_before_the_first_cache_answer_is_used():
    token = store.claim_version(user_id=7, namespace="today")
    InvalidationDebt.objects.create(user_id=7, namespaces="today")

    with redis_layer.use(RedisLayer()):  # as a process starting up
        redis_layer.call(CACHE, "lookup", store.client().get, store.namespace_key(7, "today"))

        assert not InvalidationDebt.objects.exists()
        assert store.client().get(store.namespace_key(7, "today")).decode() != token
        assert redis_layer.healthy(CACHE)


def test_the_circuit_opening_makes_the_caches_recovery_due_again(swap_redis, settings):
    swap_redis(cache=DownRedis())
    with pytest.raises(RedisUnavailable):
        ping(CACHE)  # first runs the recovery due in a new process (no debts: no Redis call), then fails
    assert redis_layer.healthy(CACHE)
    open_the_breaker(CACHE, settings)
    assert not redis_layer.healthy(CACHE)


def test_a_database_error_while_recovering_fails_the_call_without_counting_against_redis():
    before = errors("cache", "ping")
    with mock.patch.object(InvalidationDebt.objects, "order_by", side_effect=OperationalError("database down")):
        with pytest.raises(RedisUnavailable, match="recovery"):
            ping(CACHE)
    assert errors("cache", "ping") == before
    assert redis_layer.breaker(CACHE).state == CLOSED
    assert not redis_layer.healthy(CACHE), "the recovery is still due"

    assert ping(CACHE) is True
    assert redis_layer.healthy(CACHE)


def test_the_throttle_and_the_revocation_check_recover_nothing_and_never_touch_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert ping(THROTTLE) is True
        assert ping(REVOCATION) is True


def test_a_settings_change_builds_a_fresh_layer_that_keeps_the_stand_ins(swap_redis, settings):
    down = DownRedis()
    swap_redis(cache=down)
    open_the_breaker(CACHE, settings)
    before = redis_layer.current()

    settings.REDIS_BREAKER_FAILURES += 1

    assert redis_layer.current() is not before
    assert redis_layer.breaker(CACHE).state == CLOSED
    assert redis_layer.client(CACHE) is down


def test_a_connection_that_finds_another_master_is_refused_until_the_check_has_run():
    failover = Failover()
    failover.seen("resee", ("10.0.0.1", 6379))
    assert failover.unchecked == set()

    for _ in range(2):  # every connection to it, not only the first: none may read before the flush
        with pytest.raises(MasterMoved, match="moved"):
            failover.seen("resee", ("10.0.0.2", 6379))
    assert failover.unchecked == {"sentinel resee"}


def test_a_master_found_to_have_moved_is_the_checks_cue_not_a_failure(settings):
    settings.REDIS_BREAKER_FAILURES = 1
    asked = []

    def finds_the_master_moved_once():
        asked.append(len(asked))
        if len(asked) == 1:
            raise MasterMoved("master resee moved")  # before anything was sent
        return "answered"

    assert redis_layer.call(CACHE, "lookup", finds_the_master_moved_once) == "answered"
    assert asked == [0, 1]
    assert redis_layer.breaker(CACHE).state == CLOSED


def test_only_known_purposes_can_be_swapped():
    with pytest.raises(ValueError, match="unknown Redis purposes"):
        RedisLayer(stand_ins={"sessions": DownRedis()})


def test_a_recovery_required_while_the_recovery_runs_stays_due():
    """Another thread's bump lost while this one pays the debts it saw: it must be paid too."""
    real_order_by = InvalidationDebt.objects.order_by

    def a_bump_lost_meanwhile(*args):
        redis_layer.require_recovery(CACHE)
        return real_order_by(*args)

    with mock.patch.object(InvalidationDebt.objects, "order_by", side_effect=a_bump_lost_meanwhile):
        assert ping(CACHE) is True
    assert not redis_layer.healthy(CACHE)
    assert ping(CACHE) is True
    assert redis_layer.healthy(CACHE)


def test_an_error_reply_in_a_round_trip_drops_its_connection_and_the_next_one_reads_only_its_own_replies():
    text = redis_layer.make_key(CACHE, "a-string")
    store.client().set(text, "plain")
    asked = {
        CACHE: [("HMGET", text, "field"), ("GET", text)],
        THROTTLE: [("INCR", redis_layer.make_key(THROTTLE, "n"))],
    }
    for _ in range(2):  # the second time on the pooled connection the first one left, if any
        replies = redis_layer.gather("test", asked)
        assert CACHE not in replies and THROTTLE not in replies  # one server, one pipeline: WRONGTYPE fails it
        assert redis_layer.gather("test", {CACHE: [("GET", text)], REVOCATION: [("PING",)]}) == {
            CACHE: [b"plain"],
            REVOCATION: [b"PONG"],
        }
    store.client().delete(text)
