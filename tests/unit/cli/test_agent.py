"""``litestack agent KIND --host NAME``: per-host agents declared in ``ServiceSpec.agents``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from litestack.cli import main as cli
from litestack.common.errors import ConfigError
from litestack.common.service import AgentSpec, CatalogEntry, Registry, ServiceSpec

pytestmark = pytest.mark.unit

CALLS: list[tuple[Any, Path, argparse.Namespace]] = []


def echo_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--word", default="hi")


def echo_main(conf: Any, data_dir: Path, args: argparse.Namespace) -> int:
    CALLS.append((conf, data_dir, args))
    return 7


SPEC = ServiceSpec(name="echoer", code_name="Echo", catalog=(CatalogEntry("echo", "echo", "Echo"),), port=9998,
                   path="/echo", factory="unused:Factory",
                   agents=(AgentSpec("echo", "An agent that records its call",
                                     main="tests.unit.cli.test_agent:echo_main",
                                     arguments="tests.unit.cli.test_agent:echo_arguments"),))


def test_an_agent_runs_with_its_host_name_options_and_config(monkeypatch: pytest.MonkeyPatch,
                                                             tmp_path: Path) -> None:
    monkeypatch.setenv("LITESTACK_DEFAULT_SERVICE_PLUGINS", "tests.unit.cli.test_agent:SPEC")
    CALLS.clear()
    rc = cli.main(["agent", "echo", "--host", "node-7", "--word", "bye", "--data-dir", str(tmp_path)])
    assert rc == 7
    (conf, data_dir, args) = CALLS[0]
    assert args.agent_host == "node-7" and args.word == "bye" and data_dir == tmp_path
    # --host names the agent's host; it is not the API's listen address.
    assert conf.get("DEFAULT", "host") == "127.0.0.1"


def test_the_built_in_object_storage_agent_is_listed() -> None:
    text = cli.parser().format_help()
    assert "agent" in text
    with pytest.raises(SystemExit):
        cli.main(["agent", "object-storage", "--help"])


def test_an_agent_kind_taken_by_another_service_is_refused() -> None:
    other = ServiceSpec(name="other", code_name="O", catalog=(), port=9997, path="/other", factory="unused:F",
                        agents=(AgentSpec("echo", "again", main="x:y"),))
    with pytest.raises(ConfigError, match="agent 'echo' is already taken by service 'echoer'"):
        Registry([SPEC, other])
