"""Logging: structlog, human-readable on a terminal, JSON with --log-format json; secrets redacted.

Locust logs through the standard library; with JSON output its records go through the same
structlog processors, so one stream carries both.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

_SECRET_KEY = re.compile(r"(authorization|token|secret|password|passwd|api[_-]?key|cookie|credential)", re.I)
# A credential after an auth scheme holds something besides lower-case letters, so prose such as
# "the security token included in the request" keeps its words.
_BEARER = re.compile(r"\b(Bearer|Basic|Token)\s+(?-i:(?=[a-z]*[A-Z0-9._~+/=-]))[A-Za-z0-9._~+/=-]+", re.I)
# A quoted header or field whose name says secret, as a dict's repr prints it (botocore's DEBUG
# line "headers={'X-Amz-Security-Token': b'...', 'Authorization': b'AWS4-HMAC-SHA256 ...'}").
_QUOTED_SECRET = re.compile(
    r"""(?P<k>(?P<kq>['"])[^'"]*(authorization|token|secret|password|api[_-]?key|cookie|credential)"""
    r"""[^'"]*(?P=kq)\s*:\s*b?)(?P<q>['"])(?:(?!(?P=q)).)*(?P=q)""",
    re.I,
)
_URL_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]+(:[^/@\s]*)?@", re.I)
_KEY_VALUE = re.compile(
    r"(?P<k>(authorization|x-api-key|api[_-]?key|token|secret|password|aws_secret_access_key|"
    r"aws_session_token)\s*[=:]\s*)(?P<v>[^\s,;&]+)",
    re.I,
)
REDACTED = "***"


def redact_text(text: str) -> str:
    """Hide credentials inside free text: bearer tokens, URL passwords, key=value secrets and
    quoted secret headers."""
    text = _QUOTED_SECRET.sub(lambda m: f"{m.group('k')}{m.group('q')}{REDACTED}{m.group('q')}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    return _KEY_VALUE.sub(lambda m: f"{m.group('k')}{REDACTED}", text)


def redact_urls(text: str) -> str:
    """Hide only the user:password part of URLs: safe on any text, code included (an HTML report)."""
    return _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)


def redact_value(key: str, value: Any) -> Any:
    if _SECRET_KEY.search(key):
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(str(k), v) for k, v in value.items()}
    return value


def redact_processor(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: no Authorization header, token or key is ever printed."""
    for key in list(event):
        event[key] = redact_value(key, event[key]) if key != "event" else redact_text(str(event[key]))
    return event


class RedactFilter(logging.Filter):
    """A handler filter: every record a handler prints (Locust's, botocore's, urllib3's) has its
    credentials hidden, at DEBUG too. Records that loadlens logs are redacted already; redaction is
    idempotent."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call is printed as logging would print it
            return True
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_handlers() -> None:
    """Put a RedactFilter on every handler of the root, ``locust`` and ``locust.stats_logger``
    loggers. Called once Locust has set its logging up (it replaces the handlers it configures)."""
    for name in (None, "locust", "locust.stats_logger"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactFilter) for f in handler.filters):
                handler.addFilter(RedactFilter())


def _render_plain(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> str:
    """``event key=value ...``: the message a standard-library handler then prefixes with time and level."""
    message = str(event.pop("event", ""))
    event.pop("level", None)
    event.pop("timestamp", None)
    event.pop("logger", None)
    extra = " ".join(f"{k}={v}" for k, v in event.items())
    return f"{message} {extra}".rstrip()


def configure(*, fmt: str = "console", level: str = "INFO", stream: TextIO | None = None) -> None:
    """Set up structlog. ``console``: events become plain ``event k=v`` messages for whatever
    standard-library handlers exist (Locust's own, when Locust set up logging), so loadlens lines
    look like Locust's. ``json``: one JSON object per line on stderr for every record, Locust's
    included; Locust's stats tables stay plain on stdout."""
    stream = stream or sys.stderr
    root = logging.getLogger()
    if fmt == "json":
        shared: list[Any] = [
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_processor,
            structlog.processors.format_exc_info,
        ]
        structlog.configure(
            processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=False,
        )
        handler = logging.StreamHandler(stream)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processor=structlog.processors.JSONRenderer(), foreign_pre_chain=shared
            )
        )
        for h in list(root.handlers):
            root.removeHandler(h)
        root.addHandler(handler)
        root.setLevel(level.upper())
        locust_logger = logging.getLogger("locust")
        for h in list(locust_logger.handlers):
            locust_logger.removeHandler(h)
        locust_logger.propagate = True
        stats_logger = logging.getLogger("locust.stats_logger")
        for h in list(stats_logger.handlers):
            stats_logger.removeHandler(h)
        plain = logging.StreamHandler(sys.stdout)
        plain.setFormatter(logging.Formatter("%(message)s"))
        stats_logger.addHandler(plain)
        stats_logger.setLevel(logging.INFO)
        stats_logger.propagate = False
        return
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, redact_processor, _render_plain],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    if not root.handlers:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(levelname)s/%(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(level.upper())


def get_logger(name: str = "loadlens") -> Any:
    return structlog.get_logger(name)
