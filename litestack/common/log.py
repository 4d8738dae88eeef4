"""Logging: every line carries the request ID and the global request ID of the current request."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from litestack.common.context import get_current

_SECRET = re.compile(r'("?(?:password|passcode|secret|token|receipt|original_password|X-Auth-Token|X-Subject-Token)"?'
                     r'\s*[:=]\s*)("[^"]*"|\S+)', re.IGNORECASE)


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``global_request_id``; masks anything that looks like a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = get_current()
        record.request_id = ctx.request_id if ctx else "-"
        record.global_request_id = (ctx.global_request_id or "-") if ctx else "-"
        if isinstance(record.msg, str) and _SECRET.search(record.msg):
            record.msg = _SECRET.sub(r"\1***", record.msg)
        return True


FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s %(global_request_id)s] %(message)s"


def setup(level: str, log_file: Path | None) -> None:
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.handlers.WatchedFileHandler(log_file)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    for noisy in ("uvicorn.access", "alembic.runtime.migration", "aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
