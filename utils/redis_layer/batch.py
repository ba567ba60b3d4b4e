"""One round trip for several purposes' commands on one server (the wire side of `gather`): the
purposes share a connection, a pipeline switching databases with SELECT (and back), so a
request's revocation check, throttle counters and cache lookup cost one round trip together."""

from typing import TYPE_CHECKING

from redis import Redis
from redis.cluster import RedisCluster

if TYPE_CHECKING:
    from utils.redis_layer.layer import RedisLayer


def send(layer: "RedisLayer", commands: dict[str, list[tuple]]) -> dict[str, list]:
    """Every purpose's commands (all on one server) in one round trip: the replies, by purpose."""
    clients = [layer.route(purpose).client for purpose in commands]
    if all(client is clients[0] for client in clients):  # one database, or a cluster: no SELECT
        return _split(layer, _pipeline(layer, clients[0], commands), commands, switched=False)
    if not all(isinstance(client, Redis) for client in clients):
        # Stand-ins of tests cannot switch databases: a pipeline each.
        return {
            purpose: _pipeline(layer, layer.route(purpose).client, {purpose: cmds})
            for purpose, cmds in commands.items()
        }
    return _split(layer, _pipeline(layer, clients[0], commands, switch=True), commands)


def _pipeline(
    layer: "RedisLayer", client: Redis | RedisCluster, commands: dict[str, list[tuple]], *, switch: bool = False
) -> list:
    home = current = _db(client) if switch else 0
    queued = []
    for purpose, cmds in commands.items():
        if switch and (db := _db(layer.route(purpose).client)) != current:
            queued.append(("SELECT", db))
            current = db
        queued.extend(cmds)
    if current != home:
        queued.append(("SELECT", home))  # Note: the pooled connection must go back as it came
    if isinstance(client, Redis):
        return exchange(client.connection_pool, queued)
    pipe = client.pipeline(transaction=False)  # a cluster's (it finds the node), or a test's stand-in
    for command in queued:
        pipe.execute_command(*command)
    return pipe.execute()


def exchange(pool, commands: list[tuple]) -> list:
    """One round trip on one pooled connection: every command in one packet, then every reply,
    raw (SELECT answers b"OK", EXPIRE 1). What redis-py's Pipeline does too, less its
    bookkeeping per call (retry wrapper, reply callbacks, HIMPORT preflight) that none of these
    commands needs and that a hit would feel. An error reply is raised, as
    Pipeline's first error would be, once the connection is dropped: replies left unread on it
    must never reach its next user."""
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        return [connection.read_response() for _ in commands]
    except BaseException:
        connection.disconnect()
        raise
    finally:
        pool.release(connection)


def _split(
    layer: "RedisLayer", replies: list, commands: dict[str, list[tuple]], *, switched: bool = True
) -> dict[str, list]:
    """Each purpose's replies, without the SELECTs' (a SELECT precedes a purpose whose database
    differs from the one before)."""
    out, at = {}, 0
    current = _db(layer.route(next(iter(commands))).client) if switched else 0
    for purpose, cmds in commands.items():
        if switched and (db := _db(layer.route(purpose).client)) != current:
            at, current = at + 1, db
        out[purpose], at = replies[at : at + len(cmds)], at + len(cmds)
    return out


def _db(client: Redis) -> int:
    return int(client.connection_pool.connection_kwargs.get("db") or 0)
