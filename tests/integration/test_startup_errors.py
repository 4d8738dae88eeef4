"""Start-up failures of what a host depends on are one clear line, not a traceback (issue 7 §4)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.integration


def up(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, "LITESTACK_IDENTITY_PASSWORD_HASH_ROUNDS": "4", **env}
    return subprocess.run([sys.executable, "-m", "litestack.cli.main", "up", "--data-dir", str(tmp_path / "d"),
                           "--port", str(free_port())], capture_output=True, text=True, timeout=120, cwd=REPO,
                          env=full)


def test_an_unreachable_database_is_one_line_without_its_password(tmp_path: Path) -> None:
    r = up(tmp_path, LITESTACK_DEFAULT_DATABASE_URL=f"postgresql+psycopg://postgres:pw-s3cret@127.0.0.1:"
                                                    f"{free_port()}/{{service}}")
    assert r.returncode == 1
    assert "litestack: cannot start: cannot reach the database postgresql+psycopg://postgres:***@" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout and "pw-s3cret" not in r.stderr + r.stdout


@pytest.mark.parametrize(("url", "said"), [
    ("amqp://guest:guest@127.0.0.1:5672/no-such-vhost",
     "the broker refused virtual host 'no-such-vhost' to user 'guest': it does not exist, or the user has no "
     "permission on it"),
    ("amqp://guest:wrong-pw@127.0.0.1:5672/", "the broker refused the credentials of user 'guest'"),
])
def test_a_broker_refusal_is_named(tmp_path: Path, url: str, said: str) -> None:
    r = up(tmp_path, LITESTACK_DEFAULT_TRANSPORT_URL=url)
    out = r.stdout + r.stderr
    assert r.returncode != 0
    assert said in out
    assert "Traceback" not in out and "wrong-pw" not in out
