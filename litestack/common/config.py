"""Configuration: one TOML file plus environment overrides, validated at start.

Options are declared in code (``Option``), grouped in sections. The sample
file (``litestack config sample``) is generated from these declarations, so the
documentation cannot drift from what the code reads.

Precedence, lowest to highest: defaults in code, the file, environment
variables named ``LITESTACK_<SECTION>_<OPTION>`` (upper case), then explicit
overrides passed by the command line.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from litestack.common.errors import ConfigError


@dataclass(frozen=True)
class Option:
    """One configuration option: name, type, default and help text."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None
    secret: bool = False

    def coerce(self, section: str, value: Any) -> Any:
        where = f"[{section}] {self.name}"
        try:
            if self.type is bool:
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "on"):
                        value = True
                    elif low in ("0", "false", "no", "off"):
                        value = False
                    else:
                        raise ValueError(value)
                elif not isinstance(value, bool):
                    raise ValueError(value)
            elif self.type is int:
                if isinstance(value, bool):
                    raise ValueError(value)
                value = int(value)
            elif self.type is float:
                value = float(value)
            elif self.type is str:
                if not isinstance(value, str):
                    raise ValueError(value)
            elif self.type is list:
                if isinstance(value, str):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                elif not isinstance(value, list):
                    raise ValueError(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: expected {self.type.__name__}, got {value!r}") from exc
        if self.choices is not None and value not in self.choices:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(f"{where}: {value!r} is below the minimum {self.minimum}")
        return value


@dataclass
class Section:
    name: str
    help: str
    options: dict[str, Option] = field(default_factory=dict)


_SECTIONS: dict[str, Section] = {}


def register_section(name: str, help: str, options: list[Option]) -> Section:
    """Declare a section; services call this at import time. Duplicate names are an error."""
    if name in _SECTIONS:
        raise ValueError(f"config section {name!r} registered twice")
    sec = Section(name, help, {o.name: o for o in options})
    _SECTIONS[name] = sec
    return sec


def sections() -> Mapping[str, Section]:
    return _SECTIONS


class Config:
    """Validated configuration values: ``conf.get("identity", "token_expiration")``."""

    def __init__(self, values: dict[str, dict[str, Any]], path: Path | None = None) -> None:
        self._values = values
        self.path = path

    def get(self, section: str, name: str) -> Any:
        try:
            return self._values[section][name]
        except KeyError:
            raise ConfigError(f"unknown option [{section}] {name}") from None

    def section(self, section: str) -> dict[str, Any]:
        return dict(self._values[section])

    def with_overrides(self, overrides: dict[str, dict[str, Any]]) -> Config:
        merged = {s: dict(v) for s, v in self._values.items()}
        for sname, opts in overrides.items():
            sec = _SECTIONS.get(sname)
            if sec is None:
                raise ConfigError(f"unknown section [{sname}]")
            for oname, value in opts.items():
                opt = sec.options.get(oname)
                if opt is None:
                    raise ConfigError(f"unknown option [{sname}] {oname}")
                merged[sname][oname] = opt.coerce(sname, value)
        return Config(merged, self.path)


def load(path: Path | None = None, environ: Mapping[str, str] | None = None,
         overrides: dict[str, dict[str, Any]] | None = None) -> Config:
    """Read defaults, then the file (if any), then the environment; validate everything."""
    env = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    if path is not None and path.exists():
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
    _import_all_option_modules(_plugins(raw, env, overrides))
    values: dict[str, dict[str, Any]] = {}
    for sname, sec in _SECTIONS.items():
        file_sec = raw.get(sname, {})
        if not isinstance(file_sec, dict):
            raise ConfigError(f"{path}: [{sname}] must be a table")
        for key in file_sec:
            if key not in sec.options:
                raise ConfigError(f"{path}: unknown option [{sname}] {key}")
        vals: dict[str, Any] = {}
        for oname, opt in sec.options.items():
            value: Any = opt.default
            if oname in file_sec:
                value = opt.coerce(sname, file_sec[oname])
            env_key = f"LITESTACK_{sname.upper()}_{oname.upper()}"
            if env_key in env:
                value = opt.coerce(sname, env[env_key])
            vals[oname] = value
        values[sname] = vals
    for key in raw:
        if key not in _SECTIONS:
            raise ConfigError(f"{path}: unknown section [{key}]")
    conf = Config(values, path)
    if overrides:
        conf = conf.with_overrides(overrides)
    return conf


def sample(plugins: list[str] | None = None) -> str:
    """A documented sample configuration file with every option at its default."""
    _import_all_option_modules(plugins or [])
    lines = [
        "# litestack configuration (TOML). Generated by `litestack config sample`.",
        "# Every option can also be set by the environment variable LITESTACK_<SECTION>_<OPTION>.",
        "",
    ]
    for sname, sec in _SECTIONS.items():
        lines.append(f"[{sname}]")
        lines.append(f"# {sec.help}")
        for opt in sec.options.values():
            lines.append("")
            for hl in opt.help.splitlines():
                lines.append(f"# {hl}")
            extra = f" One of: {', '.join(map(str, opt.choices))}." if opt.choices else ""
            lines.append(f"# Type: {opt.type.__name__}.{extra}")
            lines.append(f"#{opt.name} = {_toml_value(opt.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def _plugins(raw: Mapping[str, Any], env: Mapping[str, str],
             overrides: dict[str, dict[str, Any]] | None) -> list[str]:
    """``[DEFAULT] service_plugins`` before the sections are known: a plugin service's options
    must be registered before the file can be checked against them."""
    from litestack.common.options import DEFAULT

    opt = DEFAULT.options["service_plugins"]
    value: Any = opt.default
    file_default = raw.get("DEFAULT", {})
    if isinstance(file_default, dict) and "service_plugins" in file_default:
        value = opt.coerce("DEFAULT", file_default["service_plugins"])
    if "LITESTACK_DEFAULT_SERVICE_PLUGINS" in env:
        value = opt.coerce("DEFAULT", env["LITESTACK_DEFAULT_SERVICE_PLUGINS"])
    if overrides and "service_plugins" in overrides.get("DEFAULT", {}):
        value = opt.coerce("DEFAULT", overrides["DEFAULT"]["service_plugins"])
    return list(value)


def _import_all_option_modules(plugins: list[str]) -> None:
    """The common options, then those of every registered service (through the registry only)."""
    import importlib

    from litestack.common import service

    importlib.import_module("litestack.common.options")
    for spec in service.registry(plugins):
        if spec.options is not None:
            importlib.import_module(spec.options)


def from_args(args: Any) -> Config:
    """The configuration a ``litestack`` command runs with: ``--config FILE`` plus the command
    line's ``--host/--port/--data-dir/--workers`` (when the command has them) over everything."""
    overrides: dict[str, dict[str, object]] = {"DEFAULT": {}}
    for name in ("host", "port", "data_dir", "workers"):
        value = getattr(args, name, None)
        if value is not None:
            overrides["DEFAULT"][name] = value
    path = Path(args.config) if getattr(args, "config", None) else None
    return load(path, overrides=overrides)


def data_dir(conf: Config) -> Path:
    """``[DEFAULT] data_dir`` as an absolute path."""
    return Path(conf.get("DEFAULT", "data_dir")).expanduser().resolve()
