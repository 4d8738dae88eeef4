from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from litestack.common import config
from litestack.common.errors import ConfigError

pytestmark = pytest.mark.unit


def test_defaults_file_and_environment_in_order(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('[identity]\ntoken_expiration = 600\n[DEFAULT]\nport = 9000\n')
    conf = config.load(f, environ={"LITESTACK_IDENTITY_TOKEN_EXPIRATION": "1200"})
    assert conf.get("identity", "token_expiration") == 1200  # env beats file
    assert conf.get("DEFAULT", "port") == 9000  # file beats default
    assert conf.get("identity", "password_hash_rounds") == 12  # default


@pytest.mark.parametrize("text, match", [
    ("[identity]\nbogus = 1\n", "unknown option"),
    ("[nosuch]\nx = 1\n", "unknown section"),
    ("[identity]\ntoken_expiration = 'soon'\n", "expected int"),
    ("[identity]\ntoken_expiration = 5\n", "below the minimum"),
    ("[DEFAULT]\nlog_level = 'LOUD'\n", "is not one of"),
    ("not toml at all [", "c.toml"),
])
def test_invalid_configuration_is_refused_at_start(tmp_path: Path, text: str, match: str) -> None:
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=match):
        config.load(f, environ={})


def test_bad_environment_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"expected int"):
        config.load(None, environ={"LITESTACK_IDENTITY_LOCKOUT_DURATION": "forever"})


def test_sample_lists_every_option_and_parses_when_uncommented() -> None:
    text = config.sample()
    for sec in config.sections().values():
        assert f"[{sec.name}]" in text
        for opt in sec.options.values():
            assert f"#{opt.name} = " in text
    import tomllib

    uncommented = "\n".join(line[1:] if line.startswith("#") and " = " in line else line
                            for line in text.splitlines())
    parsed = tomllib.loads(uncommented)
    assert parsed["identity"]["token_expiration"] == 3600
    assert yaml  # the sample is TOML, not YAML; yaml import keeps the dependency honest


def test_overrides_are_validated() -> None:
    conf = config.load(None, environ={})
    assert conf.with_overrides({"DEFAULT": {"port": "8123"}}).get("DEFAULT", "port") == 8123
    with pytest.raises(ConfigError):
        conf.with_overrides({"DEFAULT": {"nope": 1}})
