"""Scale mode's queues in Redis: the crawl's request queue (scrapy-redis), and the sink to the one writer.

* :class:`RedisSink` is a :class:`.sink.DocumentSink` like ``StoreSink``: instead of opening the SQLite
  file it appends the documents and the fetch outcome to a Redis stream that one writer process
  (``supplywatch worker store``) reads, stores and acknowledges (at-least-once; the store's dedup by
  canonical URL and GUID makes a redelivery harmless).
* :class:`ReliableQueue` is the scrapy-redis queue class. scrapy-redis pops a request and forgets it,
  so a worker killed while fetching loses what it held. Here a pop moves the entry atomically into the
  worker's own processing list (LMOVE); the entry leaves it only when the request's results are
  queued (:func:`ack`). Entries of a worker whose heartbeat expired go back to the queue (:func:`reclaim`).

Imported only by scale-mode code: nothing else loads redis.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from scrapy_redis.queue import Base

from supplywatch.store import Document, FetchOutcome, SaveResult, StorageError, wire

HEARTBEAT_TTL = 10  # seconds a worker counts as alive after its last heartbeat


@dataclass(frozen=True)
class Keys:
    """Every Redis key of one deployment, under one prefix."""

    prefix: str = "supplywatch"

    @property
    def sources(self) -> str:  # source jobs pushed by `enqueue` (JSON)
        return f"{self.prefix}:crawl:sources"

    @property
    def requests(self) -> str:  # the shared Scrapy request queue
        return f"{self.prefix}:crawl:requests"

    @property
    def dupefilter(self) -> str:
        return f"{self.prefix}:crawl:dupefilter"

    @property
    def bad(self) -> str:  # queue entries no worker could decode, kept for the operator
        return f"{self.prefix}:crawl:bad"

    def processing(self, worker: str) -> str:
        return f"{self.prefix}:crawl:processing:{worker}"

    @property
    def stream(self) -> str:  # documents, outcomes and labels for the writer
        return f"{self.prefix}:documents"

    group = "writer"

    def alive(self, role: str, worker: str) -> str:
        return f"{self.prefix}:alive:{role}:{worker}"

    @property
    def health(self) -> str:  # hash: worker or job -> the last error (JSON)
        return f"{self.prefix}:health"

    @property
    def writer_stats(self) -> str:
        return f"{self.prefix}:writer"

    @property
    def classify_queue(self) -> str:  # the RQ queue's name
        return f"{self.prefix}-classify"


def heartbeat(server: Any, keys: Keys, role: str, worker: str, **info: Any) -> None:
    server.set(keys.alive(role, worker), json.dumps({"at": time.time(), **info}), ex=HEARTBEAT_TTL)


def report_error(server: Any, keys: Keys, who: str, error: str) -> None:
    """A health entry that `supplywatch status` shows until the same worker reports success."""
    server.hset(keys.health, who, json.dumps({"at": time.time(), "error": error[:2000]}))


# A worker's processing list holds both kinds of entry: the source jobs it took (until their first request
# replaces them) and the requests it popped. Each goes back where it came from -- a source job put in the
# request queue cannot be decoded as a request and would stop the worker that pops it. One script: atomic,
# so two workers reclaiming at once cannot move an entry twice.
_RECLAIM = """
local n = 0
while true do
  local entry = redis.call('LINDEX', KEYS[1], -1)
  if not entry then break end
  local ok, obj = pcall(cjson.decode, entry)
  local dest = KEYS[2]
  if ok and type(obj) == 'table' and obj['url'] == nil and obj['source'] ~= nil then dest = KEYS[3] end
  redis.call('LMOVE', KEYS[1], dest, 'RIGHT', 'LEFT')
  n = n + 1
end
return n
"""


def reclaim(server: Any, keys: Keys) -> int:
    """Put the in-flight entries of every dead crawl worker back at the head of their queues (requests to the
    request queue, source jobs to the source queue); how many."""
    moved = 0
    prefix = keys.processing("")
    for key in server.scan_iter(match=prefix + "*", count=500):
        key = key.decode() if isinstance(key, bytes) else key
        worker = key[len(prefix):]
        if not server.exists(keys.alive("crawl", worker)):
            moved += int(server.eval(_RECLAIM, 3, key, keys.requests, keys.sources))
    return moved


def pending(server: Any, keys: Keys) -> int:
    """Source jobs and requests queued or in flight anywhere: while any remain, the crawl is not over."""
    total = server.llen(keys.sources) + server.llen(keys.requests)
    for key in server.scan_iter(match=keys.processing("") + "*", count=500):
        total += server.llen(key)
    return total


def ack(server: Any, keys: Keys, worker: str, entry: bytes | None) -> None:
    if entry is not None:
        server.lrem(keys.processing(worker), 1, entry)


class ReliableQueue(Base):
    """FIFO request queue whose pops stay in the worker's processing list until acknowledged."""

    def __init__(self, server: Any, spider: Any, key: str, serializer: Any = None):
        super().__init__(server, spider, key, serializer)
        self.keys: Keys = spider.keys
        self.processing = self.keys.processing(spider.worker_id)

    def __len__(self) -> int:
        return self.server.llen(self.key)

    def push(self, request: Any) -> None:
        # A request popped here and scheduled again (a retry, a redirect) replaces its old entry in one step.
        old = request.meta.pop("sw_entry", None)
        encoded = self._encode_request(request)
        pipe = self.server.pipeline(transaction=True)
        pipe.rpush(self.key, encoded)
        if old is not None:
            pipe.lrem(self.processing, 1, old)
        pipe.execute()

    def pop(self, timeout: int = 0) -> Any:
        raw = self.server.lmove(self.key, self.processing, "LEFT", "RIGHT")
        if raw is None:
            return None
        try:
            request = self._decode_request(raw)
        except Exception as exc:
            # Kept aside, not retried: a poison entry would otherwise stop every worker in turn.
            pipe = self.server.pipeline(transaction=True)
            pipe.rpush(self.keys.bad, raw)
            pipe.lrem(self.processing, 1, raw)
            pipe.execute()
            raise ValueError(f"undecodable entry in {self.key} (moved to {self.keys.bad}): "
                             f"{type(exc).__name__}: {exc}") from exc
        request.meta["sw_entry"] = raw
        return request


class RedisSink:
    """A DocumentSink for crawl workers: each write is one stream entry per kind for the one writer.

    ``write`` returns once Redis holds the entries (XADD is acknowledged by the server), so a worker
    killed afterwards loses nothing it reported; the counts are all "new" (the writer decides)."""

    def __init__(self, server: Any, keys: Keys):
        self.server = server
        self.keys = keys

    def send_documents(self, documents: list[Document]) -> None:
        if documents:
            self._add(wire.encode("documents", documents))

    def send_outcome(self, outcome: FetchOutcome) -> None:
        self._add(wire.encode("outcome", outcome))

    def _add(self, entry: str) -> None:
        try:
            self.server.xadd(self.keys.stream, {"e": entry})
        except Exception as exc:  # redis errors are not ours to name here: say what was lost
            raise StorageError(f"could not queue for the writer: {type(exc).__name__}: {exc}") from exc

    def write(self, documents: list[Document], outcome: FetchOutcome) -> SaveResult:
        self.send_documents(documents)
        self.send_outcome(outcome)
        return SaveResult(new=len(documents))
