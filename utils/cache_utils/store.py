"""Entries in Redis: the rendered body behind a one-line JSON header.

    {"v": <namespace token>, "c": <created at>, "d": <compute seconds>, "e": <etag>}\\n<body>

The body is stored and served as bytes: a hit parses only the header. Nothing is pickled.
"""

import hashlib
import secrets
import time
from dataclasses import dataclass

import orjson
from django.core.cache import caches

from utils.cache_utils import keys
from utils.cache_utils.conf import cache_setting, ttl_for


@dataclass(frozen=True)
class Entry:
    version: str
    created_at: float
    compute_seconds: float
    etag: str
    body: bytes


class CacheMiss(Exception):
    """No usable entry. `version` is the namespace token to store the recomputed entry under:
    read before computing, so an entry computed from rows older than a write is tagged with a
    token that write has already replaced."""

    def __init__(self, version: str | None):
        self.version = version


def client():
    return caches[cache_setting("ALIAS")].client.get_client(write=True)


def etag_for(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def encode(entry: Entry) -> bytes:
    header = {"v": entry.version, "c": entry.created_at, "d": entry.compute_seconds, "e": entry.etag}
    return orjson.dumps(header) + b"\n" + entry.body


def decode(raw: bytes) -> Entry:
    header, _, body = raw.partition(b"\n")
    meta = orjson.loads(header)
    return Entry(version=meta["v"], created_at=meta["c"], compute_seconds=meta["d"], etag=meta["e"], body=body)


def lookup(*, user_id: int, namespace: str, params: dict) -> Entry:
    """The live entry, or CacheMiss. One round trip: both keys share the user's hash tag."""
    version, raw = client().mget(keys.namespace_key(user_id, namespace), keys.entry_key(user_id, namespace, params))
    version = version.decode() if version is not None else None
    if version is not None and raw is not None:
        entry = decode(raw)
        if entry.version == version:
            return entry
    raise CacheMiss(version)


def claim_version(*, user_id: int, namespace: str) -> str:
    """The namespace's token, creating a fresh random one if it is missing (never a counter: a
    token that restarted at 0 after an eviction could match entries older than a write)."""
    fresh = secrets.token_hex(8)
    existing = client().set(
        keys.namespace_key(user_id, namespace), fresh, nx=True, get=True, ex=cache_setting("NAMESPACE_TTL")
    )
    return existing.decode() if existing is not None else fresh


def store(*, user_id: int, namespace: str, params: dict, version: str, body: bytes, compute_seconds: float) -> Entry:
    entry = Entry(
        version=version, created_at=time.time(), compute_seconds=compute_seconds, etag=etag_for(body), body=body
    )
    client().set(keys.entry_key(user_id, namespace, params), encode(entry), ex=ttl_for(namespace))
    return entry


def bump(*, user_id: int, namespaces) -> None:
    """Give each namespace a new random token: every entry tagged with the old one is dead. O(1)
    whatever the number of entries; they are left to their TTL or to LRU eviction."""
    pipe = client().pipeline(transaction=False)
    for namespace in namespaces:
        pipe.set(keys.namespace_key(user_id, namespace), secrets.token_hex(8), ex=cache_setting("NAMESPACE_TTL"))
    pipe.execute()
