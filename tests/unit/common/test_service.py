"""The service registry: one spec per name, path and port; start order; lazy references."""

from __future__ import annotations

from dataclasses import replace

import pytest

from litestack.common.errors import ConfigError
from litestack.common.service import CatalogEntry, Registry, ServiceSpec, registry, resolve

pytestmark = pytest.mark.unit


def spec(name: str, port: int, requires: tuple[str, ...] = ()) -> ServiceSpec:
    return ServiceSpec(name=name, code_name=name.title(), catalog=(CatalogEntry(name, name, name),), port=port,
                       path=f"/{name}", factory="unused:Factory", requires=requires)


IDENTITY = spec("identity", 5000)


@pytest.mark.parametrize("clash", [replace(spec("other", 1), name="identity"),
                                   replace(spec("other", 1), path="/identity"),
                                   spec("other", 5000)])
def test_a_second_service_with_a_taken_name_path_or_port_is_refused(clash: ServiceSpec) -> None:
    with pytest.raises(ConfigError, match="already taken"):
        Registry([IDENTITY, clash])


def test_services_start_after_those_they_require() -> None:
    reg = Registry([IDENTITY, spec("compute", 8774, ("image", "identity")), spec("image", 9292, ("identity",))])

    assert [s.name for s in reg.enabled(["compute", "image", "identity"])] == ["identity", "image", "compute"]
    with pytest.raises(ConfigError, match="needs service 'image'"):
        reg.enabled(["identity", "compute"])
    with pytest.raises(ConfigError, match="unknown service 'nosuch'"):
        reg.enabled(["identity", "nosuch"])


def test_the_builtin_registry_holds_identity_and_loads_nothing_heavy() -> None:
    import subprocess
    import sys

    probe = ("import sys; from litestack.common import service; service.registry(); "
             "print(sorted(m for m in sys.modules if m.startswith(('litestack.identity.', 'sqlalchemy'))))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "['litestack.identity.service']"
    reg = registry()
    assert "identity" in reg
    ident = reg["identity"]
    assert ident.port == 5000 and ident.path == "/identity" and ident.catalog[0].type == "identity"
    assert any(r.name == "identity:create_user" for r in ident.rules())
    assert resolve(ident.factory).__name__ == "IdentityService"


def test_a_plugin_that_cannot_be_imported_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="cannot be loaded"):
        registry(["litestack.nosuch:SERVICE"])


def test_by_default_every_builtin_service_runs_and_a_plugin_only_when_named() -> None:
    from litestack.registry import SERVICES

    reg = Registry([IDENTITY, spec("image", 9292), spec("toy", 9999)], builtin=2)
    assert reg.default_names() == ["identity", "image"]
    assert registry().default_names() == [resolve(ref).name for ref in SERVICES]
    with_plugin = registry(["tests.functional.toyservice.service:SERVICE"])
    assert "toy" in with_plugin and "toy" not in with_plugin.default_names()


def test_no_two_services_name_the_same_table() -> None:
    """Services may share one database (a ``database_url`` without ``{service}``): their tables
    must not collide."""
    owners: dict[str, str] = {}
    for spec in registry():
        if spec.models is None:
            continue
        for table in resolve(spec.models).metadata.tables:
            assert table not in owners, f"table {table} of {spec.name} is also {owners[table]}'s"
            owners[table] = spec.name
    assert len(owners) > 40
