"""A sign of life while a circuit is open. The breaker alone lets the first call through after
its whole cool-down, though a restarted server may answer, or the sentinels may name a promoted
replica, long before. So while an opening's cool-down lasts, one thread of the process asks every
REDIS_BREAKER_PROBE_SECONDS, on a connection of its own bounded by REDIS_TIMEOUT: a PING to the
server, which in sentinel mode first asks the sentinels where the master is. An answer, or a
master found to have moved (the failover check is then due: `Failover.seen`), ends the cool-down
(`CircuitBreaker.cut_short`). The next call is the breaker's probe as after a full cool-down: it
runs the failover check and pays the debts (the recovery) before any answer is used.

# Note: a thread, not the requests: no read waits on a server whose circuit is open, and a
# dead server gets one PING per interval from each process, not one per read (a write asks itself:
# redis_layer.probe_now, its invalidation must not wait on the interval). The thread lives
# no longer than the cool-down of the opening it watches (a layer built afresh leaves none behind).
"""

import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError

from utils.breaker import CircuitBreaker
from utils.redis_layer.failover import MasterMoved

logger = logging.getLogger("resee.redis")


def watch(circuit: CircuitBreaker, client: Redis, *, server: str, interval: float) -> None:
    """Probe `server` through `client` (closed at the end) while the circuit's current opening
    cools down."""
    opening = circuit.openings
    args = (circuit, opening, client, server, interval)
    threading.Thread(target=_watch, args=args, name=f"redis probe {server}", daemon=True).start()


def _watch(circuit: CircuitBreaker, opening: int, client: Redis, server: str, interval: float) -> None:
    try:
        while circuit.cooling(opening):
            time.sleep(interval)
            if circuit.cooling(opening) and answers(client):
                circuit.cut_short(opening)
                logger.info("redis: %s answers again: its circuit's cool-down ends now", server)
                return
    finally:
        client.close()


def answers(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except MasterMoved:
        return True  # Note: a promoted replica answers; the failover check runs before its use
    except RedisError:
        return False
