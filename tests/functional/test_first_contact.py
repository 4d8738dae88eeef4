"""A newcomer's first minutes, as the README tells them: `make up` on a fresh clone, then the
`openstack` command it leaves next to `litestack` (issue 7 §5)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, free_port

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
        deadline = time.monotonic() + 800  # a fresh venv: pip installs litestack and the client
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "make-up.log").read_text()[-3000:]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthcheck", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        else:
            pytest.fail("make up did not become ready")
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
