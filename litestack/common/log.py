"""Logging: every line carries the request IDs of the current request; secrets are masked; files rotate."""

from __future__ import annotations

import fcntl
import logging
import logging.handlers
import os
import re
from pathlib import Path

from litestack.common.context import get_current

# A secret's name, an optional closing quote (JSON, or a Python repr), ':' or '=', then its value:
# a quoted string (JSON, repr, bytes repr) or everything up to a separator.
_SECRET = re.compile(
    r"""(["']?(?:password|passcode|secret|token|receipt|original_password|X-Auth-Token|X-Subject-Token)["']?"""
    r"""\s*[:=]\s*)(b?"[^"]*"|b?'[^']*'|[^\s,;&}\])]+)""", re.IGNORECASE)

# Every text ``_SECRET`` matches holds one of these once case-folded ("rece" stands for "receipt",
# whose "i" also matches the Turkish dotted and dotless i's). The substring test costs about 1 us on
# an access-log line, the regex search 25 us: the regex runs only when a word is there.
_SECRET_WORDS = ("password", "passcode", "secret", "token", "rece")

DEFAULT_MAX_BYTES = 50 << 20
DEFAULT_BACKUP_COUNT = 5


def _may_hold_secret(text: str) -> bool:
    folded = text.casefold()
    return any(word in folded for word in _SECRET_WORDS)


def mask(text: str) -> str:
    """``text`` with the value of anything that looks like a secret replaced by ``***``."""
    return _SECRET.sub(r"\1***", text) if _may_hold_secret(text) else text


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``global_request_id``; masks anything that looks like a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = get_current()
        record.request_id = ctx.request_id if ctx else "-"
        record.global_request_id = (ctx.global_request_id or "-") if ctx else "-"
        # Mask the formatted message: a secret arrives as often in the arguments as in the format
        # string, and masking the format string alone breaks it ("password=%s" loses its %s).
        try:
            message = record.getMessage()
        except Exception:  # a broken format call: logging reports it when the handler formats
            return True
        if _may_hold_secret(message) and _SECRET.search(message):
            record.msg = mask(message)
            record.args = None
        return True


class RotatingLogHandler(logging.handlers.RotatingFileHandler):
    """Rotates the log by size, and stays correct when several processes write one file.

    ``litestack up --workers N`` runs N processes on one log file. Each reopens the file when
    another one (or an external logrotate) has moved it, as ``WatchedFileHandler`` does, and
    rotation takes an exclusive lock so that two processes never both rotate the same file.
    ``max_bytes`` 0 turns rotation off (for an external logrotate).
    """

    def __init__(self, path: Path, max_bytes: int, backup_count: int) -> None:
        super().__init__(path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8")
        self._identity = self._on_disk()
        self._formatted: tuple[logging.LogRecord, str] | None = None

    def _on_disk(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.baseFilename)
        except FileNotFoundError:
            return None
        return st.st_dev, st.st_ino

    def _reopen_if_moved(self) -> bool:
        now = self._on_disk()
        if now is not None and now == self._identity and self.stream is not None:
            return False
        if self.stream is not None:
            self.stream.close()
        self.stream = self._open()
        self._identity = self._on_disk()
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._reopen_if_moved()
        except OSError:
            self.handleError(record)
            return
        try:
            super().emit(record)
        finally:
            self._formatted = None

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        # The stdlib formats every record twice (here only to measure it, then to write it) and
        # stats the path twice: a third of the CPU of an access-log line (issue 6 §8). Format
        # once, for ``format`` to reuse, and stat only when the size says to rotate.
        if self.maxBytes <= 0:
            return False
        if self.stream is None:
            self.stream = self._open()
        text = self.format(record)
        self._formatted = (record, text)
        self.stream.seek(0, 2)
        return self.stream.tell() + len(text) + 1 >= self.maxBytes and os.path.isfile(self.baseFilename)

    def format(self, record: logging.LogRecord) -> str:
        done = self._formatted
        if done is not None and done[0] is record:
            return done[1]
        return super().format(record)

    def doRollover(self) -> None:
        with open(self.baseFilename + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # Another process may have rotated while this one waited: then the file is new.
            if self._reopen_if_moved() and self.stream is not None and self.stream.tell() < self.maxBytes:
                return
            super().doRollover()
            self._identity = self._on_disk()


# The process id tells apart the workers of ``litestack up --workers N``, which share one log file
# (oslo.log's lines carry it too).
FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s [%(request_id)s %(global_request_id)s] %(message)s"


def setup(level: str, log_file: Path | None, max_bytes: int = DEFAULT_MAX_BYTES,
          backup_count: int = DEFAULT_BACKUP_COUNT) -> None:
    """Log to ``log_file`` (rotated at ``max_bytes``, keeping ``backup_count`` old files), or stderr."""
    root = logging.getLogger()
    root.setLevel(level)
    for h in list(root.handlers):
        root.removeHandler(h)
    handler: logging.Handler
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handler = RotatingLogHandler(log_file, max_bytes, backup_count)
    else:
        handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(ContextFilter())
    root.addHandler(handler)
    for noisy in ("uvicorn.access", "alembic.runtime.migration", "aiormq", "aio_pika"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


#: The level names an operator may set at run time (Cinder's dynamic log levels, 3.32).
RUNTIME_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _loggers(prefix: str) -> list[str]:
    names = [n for n, lg in logging.root.manager.loggerDict.items()
             if isinstance(lg, logging.Logger) and n.startswith(prefix)]
    if prefix and prefix not in names:
        names.append(prefix)
    return sorted(names)


def set_levels(prefix: str, level: str) -> list[str]:
    """Set the level of every logger whose name starts with ``prefix`` (and of ``prefix`` itself,
    so loggers created later inherit it); the names changed. ``ValueError`` for another level."""
    if level.upper() not in RUNTIME_LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(RUNTIME_LEVELS)}")
    names = _loggers(prefix)
    for name in names:
        logging.getLogger(name).setLevel(level.upper())
    return names


def levels(prefix: str) -> dict[str, str]:
    """The effective level of every logger whose name starts with ``prefix``."""
    return {name: logging.getLevelName(logging.getLogger(name).getEffectiveLevel()) for name in _loggers(prefix)}
