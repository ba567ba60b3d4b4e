"""The app on a Redis Cluster of three masters (REDIS_MODE=cluster), against real redis-servers.

The cached-endpoint, freshness, race and isolation tests run on a cluster too (their modules use
the `redis_topology` fixture). Here: what only a cluster has. Every key of a user sits on the
node of the user's hash slot, whatever its purpose; a request is one round trip to that node; a
dead or stalled node costs only its own users (they bypass), and a slot moved to another node is
followed with nothing stale served; the operator tools see every node.
"""

import re
import time
from contextlib import contextmanager

import pytest
import redis
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings
from redis.cluster import RedisCluster

from tests.helpers import BYPASS, HIT, URLS, cache_off
from tests.servers import RedisClusterServers, cluster_mode
from utils import redis_layer
from utils.breaker import CLOSED
from utils.cache_utils import invalidation, stats

COOLDOWN = 2.0
RECOVERY_SECONDS = 5.0  # the bound for hits to resume once a node is back
TAG = re.compile(rb"\{u(\d+)\}")


@pytest.fixture
def on_cluster(redis_cluster):
    with cluster_mode(redis_cluster):
        yield redis_cluster


@pytest.fixture
def own_cluster(tmp_path):
    """A cluster of this test alone, for the tests that break a node."""
    cluster = RedisClusterServers(tmp_path / "cluster")
    cluster.start()
    try:
        with cluster_mode(cluster), override_settings(REDIS_BREAKER_COOLDOWN_SECONDS=COOLDOWN):
            yield cluster
    finally:
        cluster.stop()


def users_on_two_nodes(make_client, cluster):
    """Two logged-in clients whose users live on different masters."""
    first = make_client("alice")
    home = cluster.node_serving(redis_layer.user_tag(first.user.id))
    for n in range(20):
        other = make_client(f"user{n}")
        if cluster.node_serving(redis_layer.user_tag(other.user.id)) is not home:
            return first, other
    raise AssertionError("20 users in a row on one node")


def keys_by_node(cluster) -> dict[int, list[bytes]]:
    found = {}
    for node in cluster.nodes:
        with node.admin() as client:
            found[node.port] = list(client.scan_iter(match=f"{settings.REDIS_KEY_NAMESPACE}:*", count=1000))
    return found


def truth(client, url: str):
    with cache_off():
        return client.get(url).json()


def test_every_key_of_a_user_whatever_its_purpose_lives_on_the_node_of_the_users_slot(on_cluster, make_client):
    clients = [make_client(name) for name in ("alice", "bob", "carol", "dave")]
    for client in clients:
        client.post("/api/content/", {"title": f"{client.user.username}'s card"})
        for url in URLS.values():
            client.get(url)
    tagged = {}
    for port, found in keys_by_node(on_cluster).items():
        for key in found:
            match = TAG.search(key)
            if match is None:
                assert b":throttle:" in key, f"a key of no user that is not an anonymous throttle: {key}"
                continue
            tagged.setdefault(int(match[1]), []).append(key)
            assert on_cluster.node_serving(match[0].decode()).port == port, f"{key} is on the wrong node"
    for client in clients:
        purposes = {key.split(b":")[1] for key in tagged[client.user.id]}
        assert {b"revoked", b"throttle", b"api"} <= purposes, purposes
    nodes = {on_cluster.node_serving(redis_layer.user_tag(client.user.id)).port for client in clients}
    assert len(nodes) > 1, "the users' keys should spread over the masters"


def test_a_cached_get_is_one_round_trip_to_the_users_node(on_cluster, make_client, swap_redis):
    sent = []

    class Counting(redis.Connection):
        def send_packed_command(self, command, check_health=True):
            sent.append(self.port)
            return super().send_packed_command(command, check_health=False)

    counting = RedisCluster.from_url(on_cluster.url, connection_class=Counting, socket_timeout=1)
    swap_redis(**dict.fromkeys(redis_layer.PURPOSES, counting))
    alice = make_client("alice")
    home = on_cluster.node_serving(redis_layer.user_tag(alice.user.id)).port
    for url in URLS.values():
        alice.get(url), alice.get(url)  # a MISS, then a HIT: every connection is open
        sent.clear()
        assert alice.get(url)["X-Cache"] == HIT
        assert sent == [home], f"{url}: packets to {sent}, one to {home} expected"
    counting.close()


@contextmanager
def broken(kind: str, node):
    if kind == "paused":
        node.pause(int((COOLDOWN + 4) * 1000))
        yield
        node.wait_until_unpaused()
    else:
        node.kill()
        yield
        node.start()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", ["killed", "paused"])
def test_a_broken_nodes_users_bypass_while_the_others_keep_hitting(own_cluster, make_client, kind):
    alice, bob = users_on_two_nodes(make_client, own_cluster)
    alice_node = own_cluster.node_serving(redis_layer.user_tag(alice.user.id))
    for client in (alice, bob):
        client.post("/api/content/", {"title": "before"})
        for url in URLS.values():
            client.get(url), client.get(url)

    with broken(kind, alice_node):
        for _ in range(3):  # the node's breaker opens
            assert alice.get(URLS["today"]).status_code == 200
        assert redis_layer.breaker(redis_layer.CACHE, alice.user.id).state != CLOSED
        written = alice.post("/api/content/", {"title": "written while her node was away"})
        timed = []
        for url in URLS.values():
            started = time.perf_counter()
            response = alice.get(url)
            timed.append(time.perf_counter() - started)
            assert response.status_code == 200 and response["X-Cache"] == BYPASS
            assert response.json() == truth(alice, url)
        others = [bob.get(url)["X-Cache"] for url in URLS.values()]
        assert redis_layer.breaker(redis_layer.CACHE, bob.user.id).state == CLOSED

    assert written.status_code == 201
    assert max(timed) < settings.REDIS_TIMEOUT, f"reads waited on the open circuit: {timed}"
    assert others == [HIT] * 3, "users of the other nodes kept hitting"
    own_cluster.wait_until_ok()
    time.sleep(COOLDOWN)
    for name, url in URLS.items():
        deadline, answer = time.monotonic() + RECOVERY_SECONDS, alice.get(url)
        while answer["X-Cache"] != HIT and time.monotonic() < deadline:
            assert answer.status_code == 200 and answer.json() == truth(alice, url), name
            time.sleep(0.05)
            answer = alice.get(url)
        assert answer["X-Cache"] == HIT, f"{name}: no HIT within {RECOVERY_SECONDS} s of the node's return"
        assert answer.json() == truth(alice, url), f"{name}: a HIT from before the write"


def migrate_slot(cluster, slot: int, source, target, *, keys_first: int | None = None):
    """Move `slot` from `source` to `target` the way redis-cli does: IMPORTING / MIGRATING, the
    keys, then the owner everywhere. With `keys_first`, stop after that many keys (mid-move)
    and return the rest of the move as a function."""
    with source.admin() as src, target.admin() as dst:
        source_id, target_id = src.cluster("myid"), dst.cluster("myid")
        dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        keys = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10000)
        src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *keys[:keys_first])

    def finish():
        with source.admin() as src:
            rest = src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 10000)
            if rest:
                src.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, 5000, "KEYS", *rest)
        for node in cluster.nodes:
            with node.admin() as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)

    if keys_first is None:
        finish()
        return None
    return finish


@pytest.mark.django_db(transaction=True)
def test_a_slot_moved_to_another_node_mid_traffic_is_followed_and_nothing_stale_is_served(own_cluster, make_client):
    alice = make_client("alice")
    tag = redis_layer.user_tag(alice.user.id)
    source = own_cluster.node_serving(tag)
    target = next(node for node in own_cluster.nodes if node is not source)
    alice.post("/api/content/", {"title": "before the move"})
    for url in URLS.values():
        alice.get(url), alice.get(url)
    with source.admin() as client:
        slot = client.cluster("keyslot", tag)

    finish = migrate_slot(own_cluster, slot, source, target, keys_first=2)
    # Mid-move: some of her keys answer ASK from the old node, a multi-key read TRYAGAIN.
    for url in URLS.values():
        response = alice.get(url)
        assert response.status_code == 200 and response.json() == truth(alice, url)
    created = alice.post("/api/content/", {"title": "written mid-move"})
    assert created.status_code == 201
    for url in URLS.values():
        assert alice.get(url).json() == truth(alice, url)
    finish()

    # Moved: the client follows MOVED to the new owner, and her entries came along.
    for url in URLS.values():
        response = alice.get(url)
        assert response.status_code == 200 and response.json() == truth(alice, url)
    assert redis_layer.server_of(redis_layer.CACHE, alice.user.id) == f"127.0.0.1:{target.port}"
    alice.post("/api/content/", {"title": "written after the move"})
    for url in URLS.values():
        assert alice.get(url).json() == truth(alice, url)  # refreshed on write, or recomputed
        response = alice.get(url)
        assert response["X-Cache"] == HIT and response.json() == truth(alice, url)
    with target.admin() as client:
        assert client.execute_command("CLUSTER", "COUNTKEYSINSLOT", slot) > 0


def test_the_operator_tools_see_every_master(on_cluster, make_client, capsys):
    clients = [make_client(name) for name in ("alice", "bob", "carol", "dave", "erin", "frank")]
    for client in clients:
        for url in URLS.values():
            client.get(url)
    nodes = {on_cluster.node_serving(redis_layer.user_tag(client.user.id)).port for client in clients}
    assert len(nodes) > 1
    call_command("cache_stats", "--json")
    report = capsys.readouterr().out
    assert '"keyspace_hits"' in report
    assert "cluster of 3 masters" in stats.redis_address()
    cached = api_keys(on_cluster)
    assert stats.redis_report()["keys"]["db0"] >= len(cached) > 0
    assert invalidation.invalidate_pattern("{u*") == len(cached)
    assert api_keys(on_cluster) == [], "entries left on some node"


def api_keys(cluster) -> list[bytes]:
    return [key for found in keys_by_node(cluster).values() for key in found if b":api:" in key]
