"""Configuration: packaged defaults, then the user's TOML file, then environment, then options.

Validates everything before anything is fetched, and reports problems with the file, the
source's name and what is wrong. Returns plain data; nothing here opens files other than configs.
"""

from __future__ import annotations

import math
import os
import re
import string
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from supplywatch.classifiers.encoder import BACKENDS
from supplywatch.crawlers import KINDS
from supplywatch.store import ConfigError

ENV_PREFIX = "SUPPLYWATCH_"
DEFAULT_CONFIG = "supplywatch.toml"
DEFAULT_DB = "supplywatch.db"
SOURCE_KEYS = {"name", "kind", "url", "vendor", "follow", "next", "enabled"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SECURITY = ("starttls", "ssl", "none")
RECIPIENT_KEYS = {"address", "labels", "min_score", "suppliers"}
SUBJECT_FIELDS = ("day", "count", "top", "stories")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Characters that end or split a mail header line (CR, LF, NEL, U+2028/9) and the other controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


@dataclass
class Config:
    path: Path | None  # the user file read, if any
    crawl: dict[str, Any]
    sources: list[dict[str, Any]] = field(default_factory=list)
    classifier: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    email: dict[str, Any] = field(default_factory=dict)  # [email], with its validated "recipients" list
    digest: dict[str, Any] = field(default_factory=dict)  # [digest]: when `run` sends it, where it writes it
    scale: dict[str, Any] = field(default_factory=dict)  # [scale]: redis_url "" means one machine, no Redis

    def source(self, name: str) -> dict[str, Any]:
        for src in self.sources:
            if src["name"] == name:
                return src
        known = ", ".join(s["name"] for s in self.sources) or "none configured"
        raise ConfigError(f"no source named {name!r} (sources: {known})")


DAY_S = 86400.0
MAX_NUMBER = 1e12  # any configured number: far above every sensible value, far below an overflow

def packaged_defaults() -> dict[str, Any]:
    return tomllib.loads(resources.files("supplywatch").joinpath("defaults.toml").read_text("utf-8"))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such configuration file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except ValueError as exc:  # an integer over Python's 4,300-digit conversion limit
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: invalid TOML: arrays or tables nested too deeply") from None


def _kind(like: Any) -> str:
    """What a setting must be, in words ("an integer", not Python's "a int")."""
    if isinstance(like, bool):
        return "true or false"
    return {int: "an integer", float: "a number", str: "a string", list: "a list"}.get(type(like), type(like).__name__)


def _coerce(value: str, like: Any, where: str) -> Any:
    try:
        if isinstance(like, bool):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if isinstance(like, int):
            return int(value)
        if isinstance(like, float):
            return float(value)
        if isinstance(like, list):
            return [v.strip() for v in value.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{where}: {value!r} is not {_kind(like)}") from None
    return value


def _merge_section(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key not in base:
            raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(sorted(base))})")
        like = base[key]
        if isinstance(like, bool) != isinstance(value, bool) or (
            not isinstance(like, bool) and isinstance(like, int | float) and not isinstance(value, int | float)
        ) or (isinstance(like, str | list) and not isinstance(value, type(like))):
            raise ConfigError(f"{where}: {key} must be {_kind(like)}, not {value!r}")
        merged[key] = float(value) if isinstance(like, float) else value
    return merged


def _check_source(src: Any, index: int, where: Path | str) -> dict[str, Any]:
    if not isinstance(src, dict):
        raise ConfigError(f"{where}: [[sources]] entry {index} is not a table")
    label = f"{where}: source {src.get('name') or f'#{index}'!r}"
    unknown = set(src) - SOURCE_KEYS
    if unknown:
        raise ConfigError(f"{label}: unknown key(s) {', '.join(sorted(unknown))}")
    name = src.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{label}: name must be 1-64 letters, digits, '.', '_' or '-'")
    kind = src.get("kind", "feed")
    if kind not in KINDS:
        raise ConfigError(f"{label}: unknown kind {kind!r} (one of: {', '.join(KINDS)})")
    url = src.get("url")
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(f"{label}: missing url")
    if not re.match(r"^https?://[^/\s]+", url.strip(), re.I):
        raise ConfigError(f"{label}: url must be http:// or https://, got {url!r}")
    follow = src.get("follow", [])
    if isinstance(follow, str):
        follow = [follow]
    if not isinstance(follow, list) or not all(isinstance(p, str) for p in follow):
        raise ConfigError(f"{label}: follow must be a list of regular expressions")
    for pattern in follow:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ConfigError(f"{label}: bad regex in follow {pattern!r}: {exc}") from None
    if KINDS[kind].needs_follow and not follow:
        raise ConfigError(f"{label}: an {kind} source needs follow = ['regex of advisory links']")
    nxt = src.get("next", "")
    if not isinstance(nxt, str):
        raise ConfigError(f"{label}: next must be a CSS selector string")
    if nxt:
        from cssselect import GenericTranslator, SelectorError

        try:
            GenericTranslator().css_to_xpath(nxt)
        except SelectorError as exc:
            raise ConfigError(f"{label}: bad CSS selector in next {nxt!r}: {exc}") from None
    vendor = src.get("vendor", "")
    if not isinstance(vendor, str):
        raise ConfigError(f"{label}: vendor must be a string")
    return {"name": name, "kind": kind, "url": url.strip(), "vendor": vendor, "follow": follow, "next": nxt,
            "enabled": bool(src.get("enabled", True))}


def check_address(value: Any, *, allow_name: bool = False) -> str:
    """``value`` as a normalised mail address, or ValueError saying what is wrong with it.

    A bare ``alice@example.com``; with ``allow_name`` also ``Name <alice@example.com>``. Control
    characters (CR, LF...) are refused, not stripped: an address is never silently changed.
    """
    from email.errors import MessageError
    from email.headerregistry import Address

    if not isinstance(value, str) or not value.strip():
        raise ValueError("empty address")
    if _CONTROL.search(value):
        raise ValueError("control characters in address")
    name, spec = "", value.strip()
    match = re.fullmatch(r"(.*?)\s*<([^<>]*)>", spec)
    if match:
        if not allow_name:
            raise ValueError(f"expected a bare address such as alice@example.com, not {value!r}")
        name, spec = match.group(1).strip(), match.group(2).strip()
        if len(name) >= 2 and name[0] == name[-1] == '"':
            name = name[1:-1]
    if not spec.isascii():
        raise ValueError(f"{spec!r}: non-ASCII addresses are not supported")
    try:
        addr = Address(display_name=name, addr_spec=spec)
    except (ValueError, IndexError, MessageError) as exc:  # the parser raises IndexError for "a@"
        why = "incomplete" if isinstance(exc, IndexError) else exc
        raise ValueError(f"{spec!r} is not a mail address ({why})") from None
    if not addr.username or not addr.domain:
        raise ValueError(f"{spec!r} is not a mail address (expected name@domain)")
    return str(addr)


def _label_names() -> list[str]:
    """The digest's section labels: every label of the registry."""
    from supplywatch.store import vocabulary

    return vocabulary.label_names()


def _check_email(opts: dict[str, Any], recipients: Any, where: str) -> dict[str, Any]:
    """Validate [email] (after environment overrides) and its [[email.recipients]]; returns both in one dict."""
    label = f"{where}: [email]"
    if opts["security"] not in SECURITY:
        raise ConfigError(f"{label} security must be one of {', '.join(SECURITY)}, not {opts['security']!r}")
    if not 0 <= opts["smtp_port"] <= 65535:
        raise ConfigError(f"{label} smtp_port must be within 0..65535 (0: the usual port for the security)")
    if not opts["smtp_host"].strip() or re.search(r"[\s\x00-\x1f]", opts["smtp_host"]):
        raise ConfigError(f"{label} smtp_host must be a host name or address, not {opts['smtp_host']!r}")
    for key in ("timeout", "data_timeout", "retry_backoff"):
        value = opts[key]
        if not math.isfinite(value) or not (0 < value <= DAY_S or (key == "retry_backoff" and value == 0)):
            raise ConfigError(f"{label} {key} must be more than 0 and at most {DAY_S:g} seconds, not {value!r}")
    if not 0 <= opts["max_attempts"] <= 100:
        raise ConfigError(f"{label} max_attempts must be within 0..100 (0: no cap)")
    for key in ("username_env", "password_env"):
        if opts[key] and not _ENV_NAME.fullmatch(opts[key]):
            raise ConfigError(f"{label} {key} must be the NAME of an environment variable (letters, digits, _), "
                              f"not {opts[key]!r}")
    if bool(opts["username_env"]) != bool(opts["password_env"]):
        raise ConfigError(f"{label} username_env and password_env go together: set both or neither")
    if opts["from"]:
        try:
            opts["from"] = check_address(opts["from"], allow_name=True)
        except ValueError as exc:
            raise ConfigError(f"{label} from: {exc}") from None
    for key in ("list_id", "subject"):
        if not opts[key].strip() or _CONTROL.search(opts[key]):
            raise ConfigError(f"{label} {key} must be one line of text")
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(opts["subject"]) if f is not None]
    except ValueError as exc:
        raise ConfigError(f"{label} subject: bad template {opts['subject']!r} ({exc})") from None
    for name in fields:
        if name not in SUBJECT_FIELDS:
            raise ConfigError(f"{label} subject: unknown placeholder {{{name}}} "
                              f"(known: {', '.join('{' + f + '}' for f in SUBJECT_FIELDS)})")
    if not isinstance(recipients, list):
        raise ConfigError(f"{label} recipients must be an array of tables ([[email.recipients]])")
    checked: list[dict[str, Any]] = []
    for i, rcpt in enumerate(recipients, 1):
        where_r = f"{where}: [[email.recipients]] #{i}"
        if not isinstance(rcpt, dict):
            raise ConfigError(f"{where_r} is not a table")
        unknown = set(rcpt) - RECIPIENT_KEYS
        if unknown:
            raise ConfigError(f"{where_r}: unknown key(s) {', '.join(sorted(unknown))} "
                              f"(known: {', '.join(sorted(RECIPIENT_KEYS))})")
        if "address" not in rcpt:
            raise ConfigError(f"{where_r}: missing address")
        try:
            address = check_address(rcpt["address"])
        except ValueError as exc:
            raise ConfigError(f"{where_r}: address: {exc}") from None
        where_r = f"{where}: recipient {address}"
        labels = rcpt.get("labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ConfigError(f"{where_r}: labels must be a list of label names")
        for name in labels:
            if name not in _label_names():
                raise ConfigError(f"{where_r}: unknown label {name!r} (one of: {', '.join(_label_names())})")
        min_score = rcpt.get("min_score", 0.0)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
            raise ConfigError(f"{where_r}: min_score must be a number within 0..1, not {min_score!r}")
        suppliers = rcpt.get("suppliers", [])
        if not isinstance(suppliers, list) or not all(isinstance(x, str) and x.strip() for x in suppliers):
            raise ConfigError(f"{where_r}: suppliers must be a list of supplier names")
        if any(r["address"].lower() == address.lower() for r in checked):
            raise ConfigError(f"{where}: recipient {address} is listed twice")
        checked.append({"address": address, "labels": labels, "min_score": float(min_score),
                        "suppliers": [s.strip() for s in suppliers]})
    return {**opts, "recipients": checked}


def load(path: str | Path | None = None, *, env: dict[str, str] | None = None,
         require_file: bool = False) -> Config:
    """Build the configuration. ``path`` None means $SUPPLYWATCH_CONFIG or ./supplywatch.toml if present."""
    env = dict(os.environ if env is None else env)
    explicit = path is not None or bool(env.get(ENV_PREFIX + "CONFIG"))
    cfg_path = Path(path or env.get(ENV_PREFIX + "CONFIG") or DEFAULT_CONFIG)
    defaults = packaged_defaults()
    user: dict[str, Any] = {}
    if cfg_path.exists() or explicit or require_file:
        user = _read_toml(cfg_path)
    else:
        cfg_path = None  # type: ignore[assignment]
    where = str(cfg_path) if cfg_path else "defaults"
    known_sections = set(defaults) | {"sources"}
    # Later issues add sections (classifier, email, ...); accept the ones a newer file may carry.
    future_sections = {"email", "digest", "suppliers", "serve", "reports"}
    for section in user:
        if section not in known_sections | future_sections:
            raise ConfigError(f"{where}: unknown section [{section}]")
    sections = {}
    for section in ("crawl", "classifier", "email", "digest", "scale"):
        values = user.get(section, {})
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{section}] must be a table")
        if section == "email":  # [[email.recipients]] is a list of tables, checked on its own below
            values = {k: v for k, v in values.items() if k != "recipients"}
        sections[section] = _merge_section(defaults[section], values, f"{where}: [{section}]")
        for key, like in defaults[section].items():
            name = f"{ENV_PREFIX}{section.upper()}_{key.upper()}"
            if name in env:
                sections[section][key] = _coerce(env[name], like, f"environment {name}")
    crawl = sections["crawl"]
    if env.get(ENV_PREFIX + "REDIS_URL"):  # the short name the docs give; wins over SUPPLYWATCH_SCALE_REDIS_URL
        sections["scale"]["redis_url"] = env[ENV_PREFIX + "REDIS_URL"]
    if sections["scale"]["writer_batch"] < 1 or sections["scale"]["classify_batch"] < 1 or sections["scale"]["max_idle"] < 0:
        raise ConfigError(f"{where}: [scale] writer_batch and classify_batch must be at least 1, max_idle at least 0")
    raw_sources = user.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError(f"{where}: sources must be an array of tables ([[sources]])")
    sources: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_sources, 1):
        src = _check_source(raw, i, where)
        if src["name"] in seen:
            raise ConfigError(f"{where}: duplicate source name {src['name']!r}")
        seen.add(src["name"])
        if src["enabled"]:
            sources.append(src)
    for section, values in sections.items():
        for key, value in values.items():
            # inf, nan and 1e308 pass "> 0" but hang Scrapy's delays or overflow a socket timeout.
            if isinstance(value, int | float) and not isinstance(value, bool) and not (
                    math.isfinite(value) and abs(value) <= MAX_NUMBER):
                raise ConfigError(f"{where}: [{section}] {key} must be a finite number up to {MAX_NUMBER:g}, "
                                  f"not {value!r}")
    for key, low, high in (("timeout", 0.0, DAY_S), ("download_delay", -1.0, 3600.0),
                           ("retry_after_max", -1.0, DAY_S), ("autothrottle_start_delay", -1.0, 3600.0),
                           ("autothrottle_max_delay", -1.0, 3600.0)):
        if not low < crawl[key] <= high:
            raise ConfigError(f"{where}: [crawl] {key} must be {'more than' if low == 0 else 'at least'} 0 "
                              f"and at most {high:g} seconds, not {crawl[key]!r}")
    for key in ("max_bytes", "max_entries_per_source", "max_index_pages", "concurrent_requests",
                "concurrent_per_host", "max_redirects"):
        if crawl[key] < 1:
            raise ConfigError(f"{where}: [crawl] {key} must be at least 1")
    if sections["classifier"]["batch_size"] < 1 or not 16 <= sections["classifier"]["max_length"] <= 512:
        raise ConfigError(f"{where}: [classifier] batch_size must be >= 1 and max_length within 16..512")
    if sections["classifier"]["backend"] not in BACKENDS:
        raise ConfigError(f"{where}: [classifier] backend must be {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}, "
                          f"not {sections['classifier']['backend']!r}")
    if sections["classifier"]["embedding_cache"] < 0:
        raise ConfigError(f"{where}: [classifier] embedding_cache must be >= 0 (0 turns it off)")
    if not 0 <= sections["classifier"]["story_window_days"] <= 365:
        raise ConfigError(f"{where}: [classifier] story_window_days must be within 0..365")
    email = _check_email(sections["email"], user.get("email", {}).get("recipients", []), where)
    digest = sections["digest"]
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", digest["send_at"]):
        raise ConfigError(f"{where}: [digest] send_at must be HH:MM (UTC, 24-hour), not {digest['send_at']!r}")
    return Config(path=cfg_path, crawl=crawl, sources=sources, raw=user, classifier=sections["classifier"],
                  email=email, digest=digest, scale=sections["scale"])


def db_path(option: str | None, env: dict[str, str] | None = None) -> str:
    env = dict(os.environ if env is None else env)
    return option or env.get(ENV_PREFIX + "DB") or DEFAULT_DB
