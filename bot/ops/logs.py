"""Logging setup that never writes the bot token: plain text lines, or one JSON object a line
(LOG_FORMAT=json, for journald or Loki)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

REDACTED = "<token>"


class RedactToken(logging.Filter):
    """Replaces the bot token in every record (the HTTP client logs URLs that contain it)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.token:
            return True
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a log call whose arguments do not fit its format string
            # The handler would report it with the raw arguments (and the token in them): say it here instead.
            message = f"(a log message that could not be formatted) {record.msg!s} {record.args!r}"
            record.msg, record.args = message.replace(self.token, REDACTED), None
        if self.token in message:
            record.msg = message.replace(self.token, REDACTED)
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            if self.token in text:
                record.exc_text = text.replace(self.token, REDACTED)
                record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, and the traceback
    when there is one. Newlines inside the message stay escaped, so a record is always one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # RedactToken may have replaced exc_info with an already redacted exc_text.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(token: str, level: int = logging.INFO, log_format: str = "text") -> None:
    """Log to stderr with the token redacted; keep the HTTP client's per-request lines out."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken(token))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    # open_clip logs every step of model creation on the root logger: warnings only from others.
    root.setLevel(logging.WARNING)
    for name in ("bot", "classifier", "telegram.ext"):
        logging.getLogger(name).setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
