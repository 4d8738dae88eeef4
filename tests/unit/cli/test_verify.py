"""Tests for litestack.cli.verify (the pure parts, and the command's refusals)."""

from __future__ import annotations

import configparser
import http.server
import json
import os
import re
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from litestack.cli import verify as v
from litestack.common.service import CatalogEntry, Registry, ServiceSpec, TempestSettings
from litestack.identity import tempest as identity_tempest
from litestack.identity.service import SERVICE as IDENTITY

pytestmark = pytest.mark.unit

PASSWORD = "s3cret-Admin-pw"  # a test value that must never be printed

STATE = {"pid": 1, "url": "http://127.0.0.1:8870", "auth_url": "http://127.0.0.1:8870/identity",
         "services": ["identity"], "started": 0.0}

ADMIN_CLOUD = {"region_name": "RegionOne", "identity_api_version": 3, "interface": "public",
               "auth": {"auth_url": "http://127.0.0.1:8870/identity", "username": "admin",
                        "password": PASSWORD, "project_name": "admin", "project_domain_name": "Default",
                        "user_domain_name": "Default"}}

SYSTEM_CLOUD = {"region_name": "RegionOne",
                "auth": {"auth_url": "http://127.0.0.1:8870/identity", "username": "admin",
                         "password": PASSWORD, "system_scope": "all", "user_domain_name": "Default"}}

def _spec(name: str, prefixes: tuple[str, ...], flags: tuple[str, ...], port: int) -> ServiceSpec:
    return ServiceSpec(name=name, code_name=name, catalog=(CatalogEntry(name, name, name),), port=port,
                       path=f"/{name}", factory="unused:Factory",
                       tempest=TempestSettings(prefixes=prefixes, flags=flags))


#: The registry as it will be once compute and orchestration exist: their specs claim their tests.
REG = Registry([IDENTITY,
                _spec("compute", ("tempest.api.compute.", "tempest.scenario."), ("nova",), 8774),
                _spec("orchestration", ("tempest.api.orchestration.", "heat_tempest_plugin."), ("heat_plugin",),
                      8004)])

LIST_FILE = """\
# Tempest tests of some guideline.
#   tempest.api.compute.commented.out.Test.test_x
tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token  # compute identity-v3-tokens-create
tempest.api.identity.v3.test_tokens.TokensV3Test.test_validate_token[id-a9512ac3-3909-48a4-b395-11f438e16260]
tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_list_flavors  # compute compute-flavors-list

tempest.api.image.v2.test_images.ListUserImagesTest.test_list_no_params  # compute images-v2-list
tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token  # duplicate
heat_tempest_plugin.tests.api.test_heat_api.stacks_create  # orchestration stacks-create
tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_server_basic_ops
tempest.api.object_storage.test_container_services.ContainerTest.test_create_container
somebody_plugin.tests.test_thing.ThingTest.test_it
"""

STESTR_OUTPUT = """\
{2} tempest.api.identity.admin.v3.test_domains.DomainsTestJSON.test_create_domain [0.066s] ... ok
{0} setUpClass (tempest.api.identity.admin.v3.test_trusts.TrustsV3TestJSON) ... SKIPPED: Trusts aren't enabled
{1} tempest.api.identity.v3.test_projects.IdentityV3ProjectsTest.test_list_projects [2.075110s] ... FAILED

Captured traceback:
~~~~~~~~~~~~~~~~~~~
    tempest.lib.exceptions.IdentityError: Got identity error
Details: Unexpected status code 404

{3} setUpClass (tempest.api.identity.admin.v3.test_endpoints.EndPointsTestJSON) [0.000000s] ... FAILED
{1} tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token [0.9s] ... ok

==============================
Failed 2 tests - output below:
==============================

tempest.api.identity.v3.test_projects.IdentityV3ProjectsTest.test_list_projects[id-86128d46-e170-4644]
------------------------------------------------------------------------------------------------------

======
Totals
======
Ran: 5 tests in 12.3400 sec.
 - Passed: 2
 - Skipped: 1
 - Expected Fail: 0
 - Unexpected Success: 0
 - Failed: 2
Sum of execute time for each test: 3.0700 sec.

==============
Worker Balance
==============
 - Worker 0 (1 tests) => 0:00:00.000500
"""


def _conf(text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


# --- list files ------------------------------------------------------------------------------------------


def test_list_file_ids_without_comments_attributes_or_duplicates() -> None:
    ids = v.parse_test_list(LIST_FILE)

    assert ids[:3] == [
        "tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token",
        "tempest.api.identity.v3.test_tokens.TokensV3Test.test_validate_token",
        "tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_list_flavors",
    ]
    assert len(ids) == 8
    assert not any("#" in i or "[" in i or " " in i for i in ids)


def test_only_tests_of_enabled_services_are_kept() -> None:
    sel = v.select_tests(v.parse_test_list(LIST_FILE), ["identity"], REG)

    assert sel.tests == ["tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token",
                         "tempest.api.identity.v3.test_tokens.TokensV3Test.test_validate_token"]
    assert sel.dropped == {"compute": 2, "image": 1, "object_storage": 1, "orchestration": 1,
                           "somebody_plugin": 1}


def test_tests_no_registered_service_claims_are_counted_by_tempest_area() -> None:
    sel = v.select_tests(v.parse_test_list(LIST_FILE), ["identity"])  # the real registry

    assert len(sel.tests) == 2
    assert sel.dropped["scenario"] == 1 and sel.dropped["heat_tempest_plugin"] == 1


def test_scenario_tests_need_compute_and_heat_plugin_tests_need_orchestration() -> None:
    sel = v.select_tests(v.parse_test_list(LIST_FILE), ["identity", "compute", "orchestration"], REG)

    assert "tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_server_basic_ops" in sel.tests
    assert "heat_tempest_plugin.tests.api.test_heat_api.stacks_create" in sel.tests
    assert sel.dropped == {"image": 1, "object_storage": 1, "somebody_plugin": 1}


@pytest.mark.parametrize(("test_id", "service"), [
    ("tempest.api.identity.admin.v3.test_roles.RolesV3TestJSON.test_role_create_update_show", "identity"),
    ("tempest.api.compute.servers.test_servers.ServersTestJSON.test_create_server", "compute"),
    ("tempest.api.network.test_routers.RoutersTest.test_create_show_list_update_delete_router", None),
    ("tempest.api.orchestration.stacks.test_stacks.StacksTestJSON.test_stack_list", "orchestration"),
    ("tempest.api.identityx.something", None),
])
def test_service_of_a_test_id(test_id: str, service: str | None) -> None:
    assert v.service_of(test_id, REG) == service


def test_default_regex_is_the_tests_of_the_enabled_services() -> None:
    import re

    rx = re.compile(v.default_regex({**STATE, "services": ["identity", "compute"]}, REG))

    assert rx.search("tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token")
    assert rx.search("tempest.scenario.test_server_basic_ops.TestServerBasicOps.test_server_basic_ops")
    assert not rx.search("tempest.api.image.v2.test_images.ListUserImagesTest.test_list_no_params")


def test_include_list_matches_each_id_exactly_with_or_without_attributes() -> None:
    ids = ["tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_token"]
    patterns = [re.compile(line) for line in v.include_list(ids).splitlines()]

    def selected(test_id: str) -> bool:
        return any(p.search(test_id) for p in patterns)

    assert selected(ids[0])
    assert selected(ids[0] + "[id-6f8e4436-fc96-4282-8122-e41df57197a1,smoke]")
    assert not selected(ids[0] + "_with_domain[id-1]")
    assert not selected("tempest.api.identity.v3.test_tokens.TokensV3Test.test_create_tokenXtest")
    assert not selected("tempest.api.identity.v3.test_tokensX.TokensV3Test.test_create_token")  # dots escaped


# --- tempest.conf ----------------------------------------------------------------------------------------


def test_tempest_conf_fits_a_project_scoped_admin_cloud(tmp_path: Path) -> None:
    conf = _conf(v.tempest_conf(ADMIN_CLOUD, STATE, tmp_path))

    expected_auth = {
        "use_dynamic_credentials": "true",
        "create_isolated_networks": "false",
        "default_credentials_domain_name": "Default",
        "admin_username": "admin",
        "admin_password": PASSWORD,
        "admin_domain_name": "Default",
        "admin_user_domain_name": "Default",
        "admin_project_name": "admin",
        "admin_project_domain_name": "Default",
    }
    auth = conf["auth"]
    assert {k: auth[k] for k in set(auth) - set(conf.defaults())} == expected_auth
    ident = conf["identity"]
    assert ident["uri_v3"] == "http://127.0.0.1:8870/identity/v3"
    assert ident["auth_version"] == "v3"
    assert ident["region"] == "RegionOne"
    assert ident["v3_endpoint_type"] == "public"
    assert ident["disable_ssl_certificate_validation"] == "true"
    assert ident["admin_role"] == "admin"
    assert ident["default_domain_id"] == "default"
    feat = conf["identity-feature-enabled"]
    assert (feat["api_v2"], feat["api_v3"], feat["access_rules"]) == ("false", "true", "true")
    assert (feat["trust"], feat["security_compliance"], feat["domain_specific_drivers"]) == \
        ("false", "false", "false")
    assert conf["validation"]["run_validation"] == "false"
    assert conf["oslo_concurrency"]["lock_path"] == str(tmp_path / "lock")
    assert conf["DEFAULT"]["log_dir"] == str(tmp_path / "logs")


def test_tempest_conf_only_enables_running_services(tmp_path: Path) -> None:
    identity_only = _conf(v.tempest_conf(ADMIN_CLOUD, STATE, tmp_path))["service_available"]
    with_compute = _conf(v.tempest_conf(ADMIN_CLOUD, {**STATE, "services": ["identity", "compute"]},
                                        tmp_path, REG))["service_available"]

    for flag in ("nova", "glance", "neutron", "cinder", "swift", "heat_plugin", "horizon"):
        assert identity_only[flag] == "false"
    assert with_compute["nova"] == "true"
    assert with_compute["glance"] == "false"


IDENTITY_USER_OPTIONS = ("user_lockout_failure_attempts", "user_lockout_duration",
                         "user_unique_last_password_count", "user_minimum_password_age")


def test_an_old_state_file_turns_trusts_and_security_compliance_off(tmp_path: Path) -> None:
    conf = _conf(v.tempest_conf(ADMIN_CLOUD, STATE, tmp_path))  # no "identity" key

    feat = conf["identity-feature-enabled"]
    assert (feat["trust"], feat["security_compliance"]) == ("false", "false")
    assert not set(IDENTITY_USER_OPTIONS) & set(conf["identity"])


def test_tempest_conf_describes_the_pci_dss_settings_of_the_cloud(tmp_path: Path) -> None:
    state = {**STATE, "identity": {"security_compliance": True, "lockout_failure_attempts": 3,
                                   "lockout_duration": 5, "unique_last_password_count": 2,
                                   "minimum_password_age": 1, "trust": True}}

    conf = _conf(v.tempest_conf(ADMIN_CLOUD, state, tmp_path))

    feat = conf["identity-feature-enabled"]
    assert (feat["trust"], feat["security_compliance"]) == ("true", "true")
    ident = conf["identity"]
    assert {k: ident[k] for k in IDENTITY_USER_OPTIONS} == {
        "user_lockout_failure_attempts": "3", "user_lockout_duration": "5",
        "user_unique_last_password_count": "2", "user_minimum_password_age": "1"}
    assert ident["uri_v3"] == "http://127.0.0.1:8870/identity/v3"  # the rest of [identity] stays


def test_tempest_conf_with_trusts_but_no_security_compliance(tmp_path: Path) -> None:
    state = {**STATE, "identity": {"security_compliance": False, "lockout_failure_attempts": 0,
                                   "lockout_duration": 1800, "unique_last_password_count": 0,
                                   "minimum_password_age": 0, "trust": True}}

    conf = _conf(v.tempest_conf(ADMIN_CLOUD, state, tmp_path))

    feat = conf["identity-feature-enabled"]
    assert (feat["trust"], feat["security_compliance"]) == ("true", "false")
    assert conf["identity"]["user_lockout_failure_attempts"] == "0"
    assert conf["identity"]["user_minimum_password_age"] == "0"


@pytest.mark.parametrize("identity", [{}, {"trust": "yes", "lockout_failure_attempts": "3"}, "on"])
def test_missing_or_malformed_identity_settings_read_as_off(tmp_path: Path, identity: Any) -> None:
    conf = _conf(v.tempest_conf(ADMIN_CLOUD, {**STATE, "identity": identity}, tmp_path))

    feat = conf["identity-feature-enabled"]
    assert (feat["trust"], feat["security_compliance"]) == ("false", "false")
    assert conf["identity"].get("user_lockout_failure_attempts", "0") == "0"


@pytest.mark.parametrize(("env", "compliance"), [
    ({}, False),
    ({"LITESTACK_IDENTITY_UNIQUE_LAST_PASSWORD_COUNT": "1"}, False),  # 1 disables, as in Keystone
    ({"LITESTACK_IDENTITY_LOCKOUT_FAILURE_ATTEMPTS": "3"}, True),
    ({"LITESTACK_IDENTITY_PASSWORD_EXPIRES_DAYS": "90"}, True),
    ({"LITESTACK_IDENTITY_UNIQUE_LAST_PASSWORD_COUNT": "2"}, True),
    ({"LITESTACK_IDENTITY_MINIMUM_PASSWORD_AGE": "1"}, True),
    ({"LITESTACK_IDENTITY_PASSWORD_REGEX": "^.{12,}$"}, True),
    ({"LITESTACK_IDENTITY_CHANGE_PASSWORD_UPON_FIRST_USE": "true"}, True),
    ({"LITESTACK_IDENTITY_DISABLE_USER_ACCOUNT_DAYS_INACTIVE": "90"}, True),
])
def test_the_cloud_records_its_identity_settings_for_verify(env: dict[str, str], compliance: bool) -> None:
    from litestack.common import config

    recorded = json.loads(json.dumps(identity_tempest.state(config.load(None, environ=env))))

    assert recorded["security_compliance"] is compliance
    assert recorded["trust"] is True
    assert identity_tempest.settings(recorded) == recorded


def test_recorded_pci_dss_numbers_reach_tempest_conf(tmp_path: Path) -> None:
    from litestack.common import config

    conf = config.load(None, environ={"LITESTACK_IDENTITY_LOCKOUT_FAILURE_ATTEMPTS": "4",
                                      "LITESTACK_IDENTITY_LOCKOUT_DURATION": "6",
                                      "LITESTACK_IDENTITY_UNIQUE_LAST_PASSWORD_COUNT": "3",
                                      "LITESTACK_IDENTITY_MINIMUM_PASSWORD_AGE": "2"})

    state = {**STATE, "verify": {"identity": identity_tempest.state(conf)}}
    tempest = _conf(v.tempest_conf(ADMIN_CLOUD, state, tmp_path))

    assert [tempest["identity"][k] for k in IDENTITY_USER_OPTIONS] == ["4", "6", "3", "2"]
    assert tempest["identity-feature-enabled"]["security_compliance"] == "true"


def test_tempest_conf_for_a_system_scoped_admin_names_no_project(tmp_path: Path) -> None:
    auth = _conf(v.tempest_conf(SYSTEM_CLOUD, STATE, tmp_path))["auth"]

    assert auth["admin_system"] == "all"
    assert "admin_project_name" not in auth


def test_tempest_conf_needs_a_password(tmp_path: Path) -> None:
    cloud = {"auth": {**ADMIN_CLOUD["auth"], "password": ""}}  # type: ignore[dict-item]

    with pytest.raises(v.VerifyError) as err:
        v.tempest_conf(cloud, STATE, tmp_path)
    assert err.value.exit_code == 2


def test_workspace_conf_is_private_and_stestr_finds_tempest(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "lib" / "python3.11" / "site-packages").mkdir(parents=True)

    ws = v.prepare_workspace(tmp_path / "ws", venv, ADMIN_CLOUD, STATE)

    assert stat.S_IMODE((ws / "etc" / "tempest.conf").stat().st_mode) == 0o600
    stestr = _conf((ws / ".stestr.conf").read_text())["DEFAULT"]
    assert stestr["test_path"].endswith("site-packages/tempest/test_discover")
    assert stestr["top_dir"].endswith("site-packages")


# --- results ---------------------------------------------------------------------------------------------


def test_counts_come_from_the_totals_block() -> None:
    counts = v.parse_counts(STESTR_OUTPUT)

    assert counts == v.Counts(passed=2, failed=2, skipped=1)
    assert counts.line() == "2 passed, 2 failed, 1 skipped"


def test_unexpected_successes_count_as_failures() -> None:
    out = STESTR_OUTPUT.replace(" - Unexpected Success: 0", " - Unexpected Success: 3")

    assert v.parse_counts(out) == v.Counts(passed=2, failed=5, skipped=1)


def test_no_totals_means_no_counts() -> None:
    assert v.parse_counts("ImportError: Failed to import test module: tempest.api\n") is None


def test_failed_tests_are_listed_in_order() -> None:
    assert v.parse_failed(STESTR_OUTPUT) == [
        "tempest.api.identity.v3.test_projects.IdentityV3ProjectsTest.test_list_projects",
        "setUpClass (tempest.api.identity.admin.v3.test_endpoints.EndPointsTestJSON)",
    ]


# --- installing ------------------------------------------------------------------------------------------


@pytest.fixture
def pip_calls(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the commands ensure_tempest would run instead of running them."""
    calls: list[list[str]] = []

    def fake(cmd: list[str], log: Path) -> None:
        calls.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            Path(cmd[3]).mkdir(parents=True)

    monkeypatch.setattr(v, "_run_quiet", fake)
    return calls


def test_tempest_is_installed_once_and_plugins_when_needed(tmp_path: Path, pip_calls: list[list[str]]
                                                           ) -> None:
    v.ensure_tempest(tmp_path, [])
    assert [c[1:3] for c in pip_calls] == [["-m", "venv"], ["-m", "pip"]]
    assert pip_calls[1][-1] == v.TEMPEST_REQUIREMENT

    pip_calls.clear()
    v.ensure_tempest(tmp_path, [])
    assert pip_calls == []

    v.ensure_tempest(tmp_path, ["heat-tempest-plugin"])
    assert len(pip_calls) == 1 and pip_calls[0][-1] == "heat-tempest-plugin"


def test_an_unfinished_install_starts_over(tmp_path: Path, pip_calls: list[list[str]]) -> None:
    (tmp_path / "venv" / "bin").mkdir(parents=True)  # no stamp: pip broke off last time

    v.ensure_tempest(tmp_path, [])

    assert [c[1:3] for c in pip_calls] == [["-m", "venv"], ["-m", "pip"]]


# --- the command -----------------------------------------------------------------------------------------


@pytest.fixture
def identity_url() -> Iterator[str]:
    """A loopback server answering like the identity version document (300)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(300)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/identity"
    finally:
        server.shutdown()
        server.server_close()


def _data_dir(tmp_path: Path, auth_url: str, pid: int | None = None) -> Path:
    import yaml

    (tmp_path / "state.json").write_text(json.dumps({**STATE, "auth_url": auth_url,
                                                     "pid": pid or os.getpid()}))
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump({"clouds": {"litestack-admin": ADMIN_CLOUD}}))
    return tmp_path


def test_a_stopped_cloud_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = v.verify(tmp_path, None, None, 2, "litestack-admin")

    assert rc == 2
    assert "not running" in capsys.readouterr().err


def test_a_state_file_left_by_a_dead_cloud_is_an_error(tmp_path: Path, identity_url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    _data_dir(tmp_path, identity_url, pid=2**22 + 12345)  # above Linux's pid_max default

    assert v.verify(tmp_path, None, None, 2, "litestack-admin") == 2
    assert "not running" in capsys.readouterr().err


def test_an_unknown_cloud_name_is_an_error(tmp_path: Path, identity_url: str,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    _data_dir(tmp_path, identity_url)

    assert v.verify(tmp_path, None, None, 2, "nosuch") == 2
    assert "no cloud 'nosuch'" in capsys.readouterr().err


def test_a_list_with_nothing_to_run_reports_zero_without_installing(
        tmp_path: Path, identity_url: str, capsys: pytest.CaptureFixture[str],
        pip_calls: list[list[str]]) -> None:
    data_dir = _data_dir(tmp_path, identity_url)
    tests = tmp_path / "list.txt"
    tests.write_text("tempest.api.compute.flavors.test_flavors.FlavorsV2TestJSON.test_list_flavors\n")

    rc = v.verify(data_dir, str(tests), None, 2, "litestack-admin")

    out = capsys.readouterr()
    assert rc == 0
    assert "0 passed, 0 failed, 0 skipped" in out.out.splitlines()
    assert pip_calls == []
    assert PASSWORD not in out.out + out.err
