"""The request serializer of the distributed crawl (scrapy-redis SCHEDULER_SERIALIZER): JSON, never pickle.

scrapy-redis pickles requests by default, so anyone who can write to the Redis runs code in every
worker. Its built-in "json" serializer cannot carry bytes (request bodies, header names and values)
and such requests are silently lost. This one tags what JSON lacks: bytes as base64, dicts with
non-text keys as item lists, and the few dataclasses our spiders put in requests, by an allow-list
(no type is ever imported by name from the data).
"""

from __future__ import annotations

import base64
import json
from dataclasses import fields, is_dataclass
from typing import Any

from .feeds import Entry

# The only classes a queued request may carry (in cb_kwargs or meta), by a fixed name.
ALLOWED: dict[str, type] = {"Entry": Entry}
_NAMES = {cls: name for name, cls in ALLOWED.items()}
_TAGS = ("__bytes__", "__items__", "__dc__")


def _out(obj: Any) -> Any:
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, list | tuple):
        return [_out(v) for v in obj]
    if isinstance(obj, dict):
        if all(isinstance(k, str) and k not in _TAGS for k in obj):
            return {k: _out(v) for k, v in obj.items()}
        return {"__items__": [[_out(k), _out(v)] for k, v in obj.items()]}
    if is_dataclass(obj) and type(obj) in _NAMES:
        return {"__dc__": _NAMES[type(obj)], "fields": {f.name: _out(getattr(obj, f.name)) for f in fields(obj)}}
    raise TypeError(f"a queued request cannot carry a {type(obj).__name__} (only JSON data, bytes and "
                    f"{', '.join(ALLOWED)})")


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _in(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_in(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    if "__bytes__" in obj:
        return base64.b64decode(obj["__bytes__"], validate=True)
    if "__items__" in obj:
        return {_hashable(_in(k)): _in(v) for k, v in obj["__items__"]}
    if "__dc__" in obj:
        cls = ALLOWED.get(obj["__dc__"])
        if cls is None:
            raise ValueError(f"queued request carries an unknown type {obj['__dc__']!r}")
        return cls(**{k: _in(v) for k, v in obj["fields"].items()})
    return {k: _in(v) for k, v in obj.items()}


def dumps(obj: Any) -> str:
    return json.dumps(_out(obj), ensure_ascii=False, separators=(",", ":"))


def loads(data: str | bytes) -> Any:
    return _in(json.loads(data))
