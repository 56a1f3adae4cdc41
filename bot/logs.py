"""Logging set-up for every command: plain lines or JSON lines (LOG_FORMAT=json), and a filter
that never lets a personal ID (12 digits) or a phone number reach the log in full, whichever
library wrote the record."""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from pathlib import Path

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A 12-digit personal ID (CCCD), not part of a longer number.
_PERSONAL_ID = re.compile(r"(?<!\d)\d{12}(?!\d)")
# A Vietnamese phone number as people and Telegram write it: 0912345678, 0912 345 678,
# 0912.345.678, 84912345678, +84 912 345 678.
_PHONE = re.compile(r"(?<![\d+])(?:\+?84|0)(?:[ .-]?\d){9}(?!\d)")
SHOWN_DIGITS = 3  # the last digits are kept, so a line can still be matched with a person


def _hide(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    out, seen = [], 0
    for c in text:
        if c.isdigit():
            seen += 1
            out.append(c if seen > digits - SHOWN_DIGITS else "*")
        else:
            out.append(c)
    return "".join(out)


def mask(text: str) -> str:
    """`text` with every personal ID and phone number hidden but for its last digits."""
    return _PHONE.sub(_hide, _PERSONAL_ID.sub(_hide, text))


class MaskPersonalData(logging.Filter):
    """Put on a handler: the message (with its arguments) and any traceback are masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask(record.getMessage()), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message[, exception]
    [, worker]."""

    def __init__(self, worker: int | None = None) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.worker is not None:
            entry["worker"] = self.worker
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(
    *, level: int, json_lines: bool = False, file: Path | None = None, worker: int | None = None
) -> None:
    """Log to stderr (or `file`) through the masking filter, as text or JSON lines; the lines
    of one of several workers (WORKER) say which."""
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8") if file else logging.StreamHandler()
    )
    text = TEXT_FORMAT
    if worker is not None:
        text = TEXT_FORMAT.replace(" %(name)s", f" worker{worker} %(name)s")
    handler.setFormatter(JsonLines(worker) if json_lines else logging.Formatter(text))
    handler.addFilter(MaskPersonalData())
    logging.basicConfig(level=level, handlers=[handler])
