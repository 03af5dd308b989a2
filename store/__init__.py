"""supplywatch's storage layer: one SQLite file through sqlite-utils, and the only code that writes SQL.

Public face: :class:`Store`, the plain-data models, and the exception hierarchy.
"""

from .core import Store, utcnow
from .errors import BusyError, ConfigError, CrawlError, DeliveryError, StoreError, SupplywatchError, UsageError
from .labels import Label
from .models import Document, FetchOutcome, SaveResult, content_hash, is_day

__all__ = [
    "BusyError",
    "ConfigError",
    "CrawlError",
    "DeliveryError",
    "Document",
    "FetchOutcome",
    "Label",
    "SaveResult",
    "Store",
    "StoreError",
    "SupplywatchError",
    "UsageError",
    "content_hash",
    "is_day",
    "utcnow",
]
