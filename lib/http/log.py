"""Structured one-line JSON logs; never tokens, keys, passwords or bodies."""

from __future__ import annotations

import json
import sys
import time
import traceback
from typing import Any


def log_event(event: str, **fields: Any) -> None:
    """Write one JSON line to stderr (Vercel collects stderr as the function log)."""
    record = {"ts": round(time.time(), 3), "event": event, **fields}
    sys.stderr.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")
    sys.stderr.flush()


def log_exception(request_id: str, error: BaseException) -> None:
    """Log an unexpected exception with its traceback under the request id."""
    log_event(
        "unhandled_exception",
        level="error",
        request_id=request_id,
        error=type(error).__name__,
        traceback="".join(traceback.format_exception(error)),
    )
