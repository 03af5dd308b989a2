"""supplywatch's storage layer: one SQLite file through sqlite-utils, and the only code that writes SQL.

Public face: :class:`Store`, the plain-data models, and the exception hierarchy.
"""

from . import vocabulary
from .core import Store
from .errors import (
    BusyError,
    ConfigError,
    CrawlError,
    DeliveryError,
    InputError,
    QuerySyntaxError,
    StorageError,
    SupplywatchError,
)
from .models import DATE_FORMS, Document, FetchOutcome, SaveResult, content_hash, date_range, is_day, utcnow
from .vocabulary import Label, LabelSpec

__all__ = [
    "BusyError",
    "ConfigError",
    "CrawlError",
    "DeliveryError",
    "Document",
    "FetchOutcome",
    "InputError",
    "Label",
    "LabelSpec",
    "QuerySyntaxError",
    "SaveResult",
    "Store",
    "StorageError",
    "SupplywatchError",
    "content_hash",
    "is_day",
    "date_range",
    "DATE_FORMS",
    "utcnow",
    "vocabulary",
]
