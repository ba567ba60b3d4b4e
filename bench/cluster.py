"""The bench on a Redis Cluster of three masters of its own (REDIS_MODE=cluster), beside the
standalone figures of the same run: the hit path's limit and hit modes in-process, and the
workload with the cache on, gunicorn's workers pointed at the cluster."""

import shutil
import subprocess
import time
from contextlib import contextmanager

import redis
from django.test.utils import override_settings

from bench import hitpath
from bench.workload import PrivateRedis, free_port

MASTERS = 3
MODES = ("limit", "hit")


class PrivateCluster:
    """Three cluster-enabled redis-servers on free loopback ports, slots spread by redis-cli."""

    def __init__(self, work_dir):
        self.nodes = []
        try:
            for _ in range(MASTERS):
                # Note: the bus port defaults to port + 10000, which may be taken or past 65535.
                self.nodes.append(
                    PrivateRedis(
                        work_dir,
                        *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                        *("--cluster-port", str(free_port()), "--cluster-require-full-coverage", "no"),
                    )
                )
            addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
            created = subprocess.run(
                ["redis-cli", "--cluster", "create", *addresses, "--cluster-yes"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            if created.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {created.stdout}{created.stderr}")
            self._wait_until_ok()
        except BaseException:
            self.stop()
            raise

    def _wait_until_ok(self, seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        for node in self.nodes:
            client = redis.Redis(port=node.port)
            while client.cluster("info")["cluster_state"] != "ok" or len(client.cluster("slots")) < MASTERS:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the cluster was not ok after {seconds} s")
                time.sleep(0.05)

    @property
    def url(self) -> str:
        return self.nodes[0].url

    @property
    def version(self) -> str:
        return self.nodes[0].version

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    @staticmethod
    def available() -> bool:
        return PrivateRedis.available() and shutil.which("redis-cli") is not None


@contextmanager
def on(cluster: PrivateCluster):
    """This process's app on the cluster while inside."""
    # Note: a settings change builds a new Redis layer, with a cluster client of its own.
    with override_settings(REDIS_MODE="cluster", REDIS_URL=cluster.url, REDIS_EMBEDDED=False):
        yield


def hit_path(*, cluster: PrivateCluster, tokens: dict[int, str], plan: hitpath.Plan) -> dict:
    with on(cluster):
        return hitpath.measure(tokens=tokens, plan=plan, modes=MODES)
