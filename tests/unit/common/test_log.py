"""Logging (common/log.py): secrets masked after formatting, and log files rotated by size."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from litestack.common import log

pytestmark = pytest.mark.unit


@pytest.fixture
def captured() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter(log.FORMAT))
    handler.addFilter(log.ContextFilter())
    logger = logging.getLogger("test.log.masking")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield logger, out
    finally:
        logger.removeHandler(handler)


def test_secret_in_the_arguments_keeps_the_line(captured: tuple[logging.Logger, io.StringIO],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    logger, out = captured
    logger.info("password=%s for %s", "hunter2", "alice")
    text = out.getvalue()
    assert "password=*** for alice" in text
    assert "hunter2" not in text
    assert "Logging error" not in capsys.readouterr().err


@pytest.mark.parametrize("args,secret", [
    ({"user": {"name": "alice", "password": "s3cr3t-pw"}}, "s3cr3t-pw"),
    ({"application_credential": {"id": "x", "secret": "appsecret"}}, "appsecret"),
    ({"headers": {"X-Auth-Token": b"gAAAAtokenbytes"}}, "gAAAAtokenbytes"),
    ('{"auth": {"passcode": "123456"}}', "123456"),
])
def test_secret_inside_an_argument_is_masked(captured: tuple[logging.Logger, io.StringIO], args: object,
                                             secret: str) -> None:
    logger, out = captured
    logger.info("body %s", args)
    text = out.getvalue()
    assert secret not in text
    assert "body " in text and "***" in text


def test_ordinary_lines_are_left_alone(captured: tuple[logging.Logger, io.StringIO]) -> None:
    logger, out = captured
    logger.info("created %d users in %s", 3, "default")
    assert out.getvalue().rstrip().endswith("created 3 users in default")


def _handler(path: Path, max_bytes: int, backups: int) -> logging.Handler:
    h = log.RotatingLogHandler(path, max_bytes, backups)
    h.setFormatter(logging.Formatter("%(message)s"))
    return h


def _emit(h: logging.Handler, text: str) -> None:
    h.handle(logging.LogRecord("t", logging.INFO, __file__, 1, text, None, None))


def test_log_rotates_by_size_and_keeps_backup_count(tmp_path: Path) -> None:
    path = tmp_path / "litestack.log"
    h = _handler(path, 1000, 2)
    for i in range(100):
        _emit(h, f"line {i:03d} " + "x" * 90)
    h.close()
    files = sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock"))
    assert files == ["litestack.log", "litestack.log.1", "litestack.log.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    assert "line 099" in path.read_text()


def test_two_processes_writing_one_log_rotate_once(tmp_path: Path) -> None:
    """Two handlers on one file (as two workers have): neither writes into a rotated-away file,
    and no line is lost."""
    path = tmp_path / "litestack.log"
    a, b = _handler(path, 2000, 50), _handler(path, 2000, 50)
    for i in range(120):
        _emit(a if i % 2 else b, f"line {i:03d} " + "y" * 40)
    a.close()
    b.close()
    logs = [p for p in tmp_path.iterdir() if not p.name.endswith(".lock")]
    lines = [ln for p in logs for ln in p.read_text().splitlines()]
    assert sorted(lines) == sorted(f"line {i:03d} " + "y" * 40 for i in range(120))
    assert all(p.stat().st_size <= 2000 + 60 for p in logs)
    assert len(logs) > 2


def test_setup_rotates_the_log_file(tmp_path: Path) -> None:
    root = logging.getLogger()
    saved, level = list(root.handlers), root.level
    try:
        log.setup("INFO", tmp_path / "logs" / "litestack.log", max_bytes=500, backup_count=1)
        for _ in range(50):
            logging.getLogger("litestack.test").info("a line of about fifty characters %s", "z" * 10)
        assert (tmp_path / "logs" / "litestack.log.1").exists()
        assert not (tmp_path / "logs" / "litestack.log.2").exists()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
        for h in saved:
            root.addHandler(h)
        root.setLevel(level)
