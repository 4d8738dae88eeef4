"""A newcomer's first minutes, as the README tells them: `make up` on a fresh clone, then the
`openstack` command it leaves next to `litestack` (issue 7 §5)."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port, wait_healthy

pytestmark = pytest.mark.functional


@pytest.mark.timeout(900)
def test_make_up_on_a_fresh_clone_leaves_a_working_openstack_command(tmp_path: Path) -> None:
    clone = tmp_path / "litestack"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=120)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "OS_", "LITESTACK_"))}
    env["LITESTACK_DEFAULT_PORT"] = str(port)
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    log = (tmp_path / "make-up.log").open("wb")
    proc = subprocess.Popen(["make", "up"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        # A fresh venv: pip installs litestack and the client first.
        wait_healthy(f"http://127.0.0.1:{port}", proc, 800, tmp_path / "make-up.log")
        assert (clone / ".venv/bin/openstack").exists()
        # The README's first command, word for word but for the file's location.
        r = subprocess.run([".venv/bin/openstack", "--os-cloud", "litestack", "token", "issue"], cwd=clone,
                           env={**env, "OS_CLIENT_CONFIG_FILE": str(clone / "data/clouds.yaml")},
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert "expires" in r.stdout and "project_id" in r.stdout
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)
