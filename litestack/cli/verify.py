"""``litestack verify``: run OpenStack's tempest tests against the running cloud.

The tempest install lives in ``DATA_DIR/tempest`` and is made once::

    DATA_DIR/tempest/venv/          virtualenv with tempest (and stestr); ``installed.json`` stamps it
    DATA_DIR/tempest/install.log    pip's output
    DATA_DIR/tempest/workspace/     etc/tempest.conf, .stestr.conf, include-list.txt, logs/, .stestr/
    DATA_DIR/tempest/last-run.log   tempest's console output of the latest run

The pure parts (reading a test list, choosing tests by enabled service, rendering
tempest.conf, reading the results) are separate functions so they can be unit tested.
Passwords go into tempest.conf (mode 0600) and nowhere else: nothing printed
contains them.
"""

from __future__ import annotations

import configparser
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestack.common.errors import LitestackError
from litestack.common.service import Registry, ServiceSpec, registry, resolve

#: The tempest release the conformance lists were checked against; changing it reinstalls.
TEMPEST_REQUIREMENT = "tempest==47.0.0"

#: Every ``[service_available]`` flag tempest 47 and its plugins read. All are written, false
#: unless an enabled service's spec claims the flag (tempest's own defaults would turn some on).
TEMPEST_FLAGS: tuple[str, ...] = ("nova", "glance", "neutron", "cinder", "swift", "heat_plugin", "horizon",
                                  "ceilometer", "aodh", "gnocchi", "trove")

PROGRESS_EVERY = 30.0  # seconds between "still running" lines

_RESULT_LINE = re.compile(r"^\{\d+\} (?P<name>.+?)(?: \[[^\]]*\])? \.\.\. (?P<status>ok|FAILED|SKIPPED)")
_TOTAL_LINE = re.compile(r"^ - (Passed|Skipped|Expected Fail|Unexpected Success|Failed): (\d+)\s*$")


class VerifyError(LitestackError):
    """Raised when ``litestack verify`` cannot run; ``exit_code`` is what the command returns."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message, exit_code=exit_code)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Counts:
    """The outcome of a tempest run, as stestr's totals report it."""

    passed: int
    failed: int
    skipped: int

    def line(self) -> str:
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


@dataclass(frozen=True)
class Selection:
    """Tests chosen from a list file: ``tests`` run, ``dropped`` counts the rest by needed service."""

    tests: list[str]
    dropped: dict[str, int]


# --- pure parts ----------------------------------------------------------------------------------------


def parse_test_list(text: str) -> list[str]:
    """Test ids of a list file, in order, without duplicates.

    One id a line; ``#`` starts a comment (whole line or trailing); a ``[id-...,smoke]``
    attribute suffix is dropped because stestr matches the bare id.
    """
    seen: dict[str, None] = {}
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        test_id = line.split()[0]
        test_id = test_id.split("[", 1)[0]
        if test_id:
            seen.setdefault(test_id, None)
    return list(seen)


def _registry(reg: Registry | None) -> Registry:
    return reg if reg is not None else registry()


def service_of(test_id: str, reg: Registry | None = None) -> str | None:
    """The litestack service a test needs (the spec claiming its prefix), or None when none does."""
    for spec in _registry(reg):
        if any(test_id.startswith(p) for p in spec.tempest.prefixes):
            return spec.name
    return None


def _area(test_id: str) -> str:
    """How to count a test no service claims: by tempest's area (``tempest.api.compute`` →
    ``compute``, ``tempest.scenario`` → ``scenario``, a plugin by its package)."""
    parts = test_id.split(".")
    if parts[:2] == ["tempest", "api"] and len(parts) > 2:
        return parts[2]
    if parts[0] == "tempest" and len(parts) > 1:
        return parts[1]
    return parts[0] or "unknown"


def select_tests(test_ids: Iterable[str], enabled: Iterable[str], reg: Registry | None = None) -> Selection:
    """Keep the tests whose service is enabled; count the dropped ones by service (or tempest area)."""
    on = set(enabled)
    kept: list[str] = []
    dropped: dict[str, int] = {}
    for test_id in test_ids:
        service = service_of(test_id, reg)
        if service is not None and service in on:
            kept.append(test_id)
        else:
            key = service or _area(test_id)
            dropped[key] = dropped.get(key, 0) + 1
    return Selection(kept, dropped)


def include_list(test_ids: Iterable[str]) -> str:
    """An stestr include-list (one regex a line) matching exactly these ids, with or without attributes."""
    return "".join(f"^{re.escape(t)}(\\[.*\\])?$\n" for t in test_ids)


def tempest_conf(cloud: Mapping[str, Any], state: Mapping[str, Any], workspace: Path,
                 reg: Registry | None = None) -> str:
    """tempest.conf text for the running cloud.

    ``cloud`` is one entry of clouds.yaml (the admin cloud), ``state`` is state.json and
    ``workspace`` the tempest workspace (for the lock and log directories). Each enabled service
    adds its own sections (``TempestSettings.configure``) from what it recorded in state.json.
    """
    auth = cloud.get("auth") or {}
    for key in ("username", "password"):
        if not auth.get(key):
            raise VerifyError(f"clouds.yaml: the cloud has no auth.{key}", exit_code=2)
    if not auth.get("project_name") and not auth.get("system_scope"):
        raise VerifyError("clouds.yaml: the cloud is neither project nor system scoped", exit_code=2)
    user_domain = auth.get("user_domain_name") or "Default"
    specs = _enabled_specs(state, reg)

    conf = configparser.ConfigParser(interpolation=None)
    conf.optionxform = str  # type: ignore[assignment,method-assign]
    conf["DEFAULT"] = {"log_dir": str(workspace / "logs"), "log_file": "tempest.log"}
    admin = {
        "use_dynamic_credentials": "true",
        "create_isolated_networks": "false",
        "default_credentials_domain_name": "Default",
        "admin_username": str(auth["username"]),
        "admin_password": str(auth["password"]),
        "admin_domain_name": str(user_domain),
        "admin_user_domain_name": str(user_domain),
    }
    if auth.get("system_scope"):
        admin["admin_system"] = str(auth["system_scope"])
    else:
        admin["admin_project_name"] = str(auth["project_name"])
        admin["admin_project_domain_name"] = str(auth.get("project_domain_name") or user_domain)
    conf["auth"] = admin
    recorded: Mapping[str, Any] = state.get("verify") or {}
    if not isinstance(recorded, Mapping):
        recorded = {}
    flags = {flag: "false" for flag in TEMPEST_FLAGS}
    for spec in specs:
        # A state file written before "verify" existed kept identity's settings at the top level.
        settings = recorded.get(spec.name, state.get(spec.name))
        if spec.tempest.configure is not None:
            resolve(spec.tempest.configure)(conf, settings, cloud, state)
        flags.update({flag: "true" for flag in spec.tempest.flags})
    conf["service_available"] = flags
    conf["validation"] = {"run_validation": "false"}
    conf["oslo_concurrency"] = {"lock_path": str(workspace / "lock")}
    out = io.StringIO()
    conf.write(out)
    return out.getvalue()


def default_regex(state: Mapping[str, Any], reg: Registry | None = None) -> str:
    """Every test of the enabled services (their tempest prefixes)."""
    prefixes = [p for spec in _enabled_specs(state, reg) for p in spec.tempest.prefixes]
    return "|".join(f"^{re.escape(p)}" for p in prefixes) or "^$"


def _enabled_specs(state: Mapping[str, Any], reg: Registry | None) -> list[ServiceSpec]:
    known = _registry(reg)
    return [known[name] for name in state.get("services") or [] if name in known]


def stestr_conf(site_packages: Path) -> str:
    """The .stestr.conf that makes stestr discover tempest (and its plugins) from the venv."""
    return (f"[DEFAULT]\ntest_path={site_packages / 'tempest' / 'test_discover'}\n"
            f"top_dir={site_packages}\ngroup_regex=([^\\.]*\\.)*\n")


def parse_counts(output: str) -> Counts | None:
    """Counts from the ``Totals`` block stestr prints, or None when there is none (the run broke).

    Unexpected successes count as failures, expected failures as passes, as stestr's exit code does.
    """
    totals = output.rfind("\nTotals\n")
    if totals < 0:
        return None
    found: dict[str, int] = {}
    for line in output[totals:].splitlines():
        m = _TOTAL_LINE.match(line)
        if m:
            found.setdefault(m.group(1), int(m.group(2)))
    if "Passed" not in found or "Failed" not in found:
        return None
    return Counts(passed=found["Passed"] + found.get("Expected Fail", 0),
                  failed=found["Failed"] + found.get("Unexpected Success", 0),
                  skipped=found.get("Skipped", 0))


def parse_failed(output: str) -> list[str]:
    """Names of failed tests (``setUpClass (module.Class)`` for a class that failed to set up), in order."""
    failed: dict[str, None] = {}
    for line in output.splitlines():
        m = _RESULT_LINE.match(line)
        if m and m.group("status") == "FAILED":
            failed.setdefault(m.group("name"), None)
    return list(failed)


# --- the command ---------------------------------------------------------------------------------------


def say(msg: str) -> None:
    print(f"litestack verify: {msg}", flush=True)


def verify(data_dir: Path, list_file: str | None, regex: str | None, concurrency: int, cloud: str) -> int:
    """Run tempest against the cloud whose state is in ``data_dir``; 0 when no test failed."""
    try:
        return _verify(data_dir, list_file, regex, concurrency, cloud)
    except VerifyError as exc:
        print(f"litestack verify: {exc.message}", file=sys.stderr)
        return exc.exit_code


def _verify(data_dir: Path, list_file: str | None, regex: str | None, concurrency: int, cloud: str) -> int:
    if concurrency < 1:
        raise VerifyError("--concurrency must be at least 1", exit_code=2)
    state = read_state(data_dir)
    admin_cloud = read_cloud(data_dir / "clouds.yaml", cloud)
    enabled: list[str] = list(state.get("services") or [])

    tests: list[str] | None = None
    if list_file is not None:
        path = Path(list_file)
        try:
            listed = parse_test_list(path.read_text())
        except OSError as exc:
            raise VerifyError(f"cannot read {path}: {exc.strerror}", exit_code=2) from exc
        sel = select_tests(listed, enabled)
        tests = sel.tests
        dropped = ", ".join(f"{svc} {n}" for svc, n in sorted(sel.dropped.items()))
        say(f"{len(tests)} of {len(listed)} tests in {path.name} need only enabled services "
            f"({', '.join(enabled)})" + (f"; left out: {dropped}" if dropped else ""))
        if not tests:
            print(Counts(0, 0, 0).line())
            return 0
    else:
        regex = regex or default_regex(state)

    base = data_dir / "tempest"
    plugins = [s.tempest.plugin for s in _enabled_specs(state, None) if s.tempest.plugin]
    venv = ensure_tempest(base, plugins)
    workspace = prepare_workspace(base / "workspace", venv, admin_cloud, state)

    cmd = [str(venv / "bin" / "tempest"), "run", "--config-file", str(workspace / "etc" / "tempest.conf"),
           "--concurrency", str(concurrency)]
    if tests is not None:
        include = workspace / "include-list.txt"
        include.write_text(include_list(tests))
        cmd += ["--include-list", str(include)]
        what = f"{len(tests)} tests"
    else:
        cmd += ["--regex", str(regex)]
        what = f"tests matching {regex!r}"
    log_path = base / "last-run.log"
    say(f"running {what} with concurrency {concurrency}; output in {log_path}")
    started = time.monotonic()
    output = run_logged(cmd, workspace, log_path, venv)
    elapsed = time.monotonic() - started

    counts = parse_counts(output)
    if counts is None:
        tail = "\n".join(output.splitlines()[-15:])
        raise VerifyError(f"tempest did not report results (see {log_path}); last lines:\n{tail}")
    say(f"finished in {elapsed:.1f}s")
    print(counts.line())
    failed = parse_failed(output)
    if failed:
        print("failed:")
        for name in failed:
            print(f"  {name}")
    return 1 if counts.failed else 0


def read_state(data_dir: Path) -> dict[str, Any]:
    """state.json of a running cloud; VerifyError (exit code 2) when the cloud is not running."""
    path = data_dir / "state.json"
    hint = f"start it with `litestack up --data-dir {data_dir}`"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise VerifyError(f"the cloud is not running (no {path}); {hint}", exit_code=2) from exc
    except (OSError, ValueError) as exc:
        raise VerifyError(f"cannot read {path}: {exc}", exit_code=2) from exc
    if not isinstance(state, dict) or "auth_url" not in state:
        raise VerifyError(f"{path} has no auth_url", exit_code=2)
    pid = state.get("pid")
    if isinstance(pid, int) and not _alive(pid):
        raise VerifyError(f"the cloud is not running (process {pid} of {path} is gone); {hint}",
                          exit_code=2)
    try:
        with urllib.request.urlopen(str(state["auth_url"]), timeout=10):  # noqa: S310 - our own URL
            pass
    except urllib.error.HTTPError:
        pass  # it answered, which is all we ask here
    except OSError as exc:
        raise VerifyError(f"the cloud does not answer at {state['auth_url']} ({exc})", exit_code=2) from exc
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_cloud(clouds_yaml: Path, name: str) -> dict[str, Any]:
    """One cloud entry of clouds.yaml."""
    import yaml

    try:
        data = yaml.safe_load(clouds_yaml.read_text()) or {}
    except OSError as exc:
        raise VerifyError(f"cannot read {clouds_yaml}: {exc.strerror}", exit_code=2) from exc
    clouds = data.get("clouds") or {}
    if name not in clouds:
        raise VerifyError(f"no cloud {name!r} in {clouds_yaml} (have: {', '.join(clouds)})", exit_code=2)
    cloud: dict[str, Any] = clouds[name]
    return cloud


def ensure_tempest(base: Path, plugins: list[str]) -> Path:
    """The tempest virtualenv, made on first use; installs missing plugins later. Returns the venv."""
    venv = base / "venv"
    stamp = venv / "installed.json"
    wanted = [TEMPEST_REQUIREMENT, *plugins]
    have: list[str] = []
    if stamp.exists():
        try:
            have = list(json.loads(stamp.read_text()).get("packages", []))
        except (OSError, ValueError):
            have = []
    if TEMPEST_REQUIREMENT not in have:
        # no stamp: a previous install broke off, or tempest's pin changed; start clean
        if venv.exists():
            shutil.rmtree(venv)
        base.mkdir(parents=True, exist_ok=True)
        say(f"first use: creating {venv} and installing {TEMPEST_REQUIREMENT} (a few minutes)")
        _run_quiet([sys.executable, "-m", "venv", str(venv)], base / "install.log")
        have = []
    missing = [p for p in wanted if p not in have]
    if missing:
        if have:
            say(f"installing {', '.join(missing)} into {venv}")
        started = time.monotonic()
        _run_quiet([str(venv / "bin" / "python"), "-m", "pip", "install", *missing], base / "install.log")
        say(f"installed {', '.join(missing)} in {time.monotonic() - started:.0f}s")
        stamp.write_text(json.dumps({"packages": have + missing}))
    return venv


def _run_quiet(cmd: list[str], log: Path) -> None:
    with log.open("a") as f:
        f.write(f"$ {' '.join(cmd)}\n")
        f.flush()
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, check=False).returncode
    if rc != 0:
        raise VerifyError(f"`{' '.join(cmd[-3:])}` failed (exit {rc}); see {log}")


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise VerifyError(f"{venv} has no site-packages; remove {venv} and try again")
    return found[0]


def prepare_workspace(workspace: Path, venv: Path, cloud: Mapping[str, Any], state: Mapping[str, Any]
                      ) -> Path:
    """Write the workspace layout ``tempest init`` makes, with a tempest.conf for this cloud.

    Made by hand rather than by ``tempest init`` so nothing is registered in ~/.tempest.
    """
    for sub in ("etc", "logs", "lock"):
        (workspace / sub).mkdir(parents=True, exist_ok=True)
    conf = workspace / "etc" / "tempest.conf"
    fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(tempest_conf(cloud, state, workspace))
    os.chmod(conf, 0o600)  # an older file keeps its mode through O_TRUNC
    (workspace / ".stestr.conf").write_text(stestr_conf(site_packages(venv)))
    return workspace


def run_logged(cmd: list[str], cwd: Path, log_path: Path, venv: Path) -> str:
    """Run tempest, copy its output to ``log_path`` and return it; print a progress line now and then."""
    env = dict(os.environ)
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env.pop("PYTHONPATH", None)
    env.pop("OS_CLOUD", None)
    lines: list[str] = []
    done = failed = 0
    last = time.monotonic()
    with log_path.open("w") as log, subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            errors="replace") as proc:
        assert proc.stdout is not None  # stdout=PIPE
        for line in proc.stdout:
            log.write(line)
            lines.append(line)
            m = _RESULT_LINE.match(line)
            if m:
                done += 1
                failed += m.group("status") == "FAILED"
            if time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                log.flush()
                say(f"... {done} done, {failed} failed so far")
        proc.wait()
    return "".join(lines)
