"""Tests for litestack.common.policy: the rule language, scope enforcement, overrides and sample dumps."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
import yaml

from litestack.common.context import RequestContext
from litestack.common.errors import ConfigError, Forbidden, LitestackError
from litestack.common.policy import (
    DeprecatedRule,
    Enforcer,
    Evaluation,
    FalseCheck,
    InvalidScope,
    PolicyNotAuthorized,
    PolicyNotRegistered,
    PolicySyntaxError,
    RuleCycle,
    RuleDefault,
    parse_rule,
    parse_rule_strict,
    token_scope,
)

pytestmark = pytest.mark.unit


def creds(
    *roles: str,
    user_id: str | None = "u1",
    project_id: str | None = None,
    domain_id: str | None = None,
    system: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    """A policy creds dict shaped like ``RequestContext.policy_creds()``."""
    base: dict[str, Any] = {
        "user_id": user_id,
        "user_domain_id": "default",
        "project_id": project_id,
        "project_domain_id": "default" if project_id else None,
        "domain_id": domain_id,
        "system_scope": "all" if system else None,
        "roles": list(roles),
        "service_roles": [],
        "is_admin": False,
        "is_admin_project": True,
    }
    base.update(extra)
    return base


def check(rule: str, target: dict[str, Any] | None = None, **creds_kw: Any) -> bool:
    """Evaluate rule text with no named rules available."""
    roles = creds_kw.pop("roles", ())
    return parse_rule(rule)(target or {}, creds(*roles, **creds_kw), Evaluation())


# --- Grammar -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("", "@"),
        ("   ", "@"),
        ("@", "@"),
        ("!", "!"),
        ("role:a", "role:a"),
        ("role:a or role:b and role:c", "(role:a or (role:b and role:c))"),
        ("role:a and role:b or role:c", "((role:a and role:b) or role:c)"),
        ("(role:a or role:b) and role:c", "((role:a or role:b) and role:c)"),
        ("role:a and role:b and role:c", "(role:a and role:b and role:c)"),
        ("role:a or role:b or role:c", "(role:a or role:b or role:c)"),
        ("not role:a and role:b", "(not role:a and role:b)"),
        ("not role:a or role:b", "(not role:a or role:b)"),
        ("not (role:a or role:b)", "not (role:a or role:b)"),
        ("not not role:a", "not not role:a"),
        ("((role:a))", "role:a"),
        ("not(role:a)and(role:b)", "(not role:a and role:b)"),
        ("role:a AND role:b Or NOT role:c", "((role:a and role:b) or not role:c)"),
        ("user_id:%(target.user.id)s", "user_id:%(target.user.id)s"),
        ("'member':%(target.role.name)s", "'member':%(target.role.name)s"),
        ("name:'two words'", "name:'two words'"),
        ("rule:admin_required or @", "(rule:admin_required or @)"),
    ],
)
def test_parse_builds_tree_with_precedence_not_and_or(text: str, tree: str) -> None:
    parsed = parse_rule_strict(text)
    assert str(parsed) == tree
    assert str(parse_rule_strict(str(parsed))) == tree  # str() round-trips


@pytest.mark.parametrize(
    ("rule", "roles", "expected"),
    [
        ("", [], True),
        ("@", [], True),
        ("!", ["admin"], False),
        ("role:a or role:b and role:c", ["a"], True),
        ("role:a or role:b and role:c", ["b"], False),
        ("role:a or role:b and role:c", ["b", "c"], True),
        ("(role:a or role:b) and role:c", ["a"], False),
        ("(role:a or role:b) and role:c", ["a", "c"], True),
        ("not role:a", [], True),
        ("not role:a", ["a"], False),
        ("not role:a and role:b", ["b"], True),
        ("not role:a and role:b", ["a", "b"], False),
        ("not (role:a and role:b)", ["a"], True),
        ("not (role:a and role:b)", ["a", "b"], False),
        ("not @", [], False),
        ("not !", [], True),
    ],
)
def test_rule_evaluates_boolean_logic(rule: str, roles: list[str], expected: bool) -> None:
    assert check(rule, roles=roles) is expected


@pytest.mark.parametrize(
    "text",
    [
        "role:a and",
        "and role:a",
        "or",
        "not",
        "(role:a",
        "role:a)",
        "()",
        "role:a role:b",
        "justaword",
        ":value",
        "role:",
        "'unterminated:x",
        "'member'x:%(a)s",
        "user_id:%(target.id",
        "user_id:%(target.id)d",
        "(" * 200 + "role:a" + ")" * 200,
        "not " * 200 + "role:a",
    ],
)
def test_malformed_rule_denies_and_logs(text: str, caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(PolicySyntaxError):
        parse_rule_strict(text)
    parse_rule.cache_clear()
    with caplog.at_level(logging.WARNING, logger="litestack.common.policy"):
        assert isinstance(parse_rule(text), FalseCheck)
    assert "Failed to parse policy rule" in caplog.text


def test_malformed_rule_denies_whole_rule_even_with_a_passing_branch() -> None:
    assert check("role:admin or bogus", roles=["admin"]) is False


def test_parse_rule_is_cached_per_check_string(caplog: pytest.LogCaptureFixture) -> None:
    parse_rule.cache_clear()
    assert parse_rule("role:a or role:b") is parse_rule("role:a or role:b")
    with caplog.at_level(logging.WARNING, logger="litestack.common.policy"):
        parse_rule("role:a and")
        parse_rule("role:a and")
    assert caplog.text.count("Failed to parse") == 1


# --- Role and generic checks ------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "roles", "target", "expected"),
    [
        ("role:admin", ["admin"], {}, True),
        ("role:admin", ["Admin"], {}, True),
        ("role:ADMIN", ["admin"], {}, True),
        ("role:admin", ["reader"], {}, False),
        ("role:admin", [], {}, False),
        ("role:%(target.role.name)s", ["member"], {"target.role.name": "Member"}, True),
        ("role:%(target.role.name)s", ["member"], {"target": {"role": {"name": "member"}}}, True),
        ("role:%(target.role.name)s", ["member"], {}, False),
    ],
)
def test_role_check_is_case_insensitive_membership(
    rule: str, roles: list[str], target: dict[str, Any], expected: bool
) -> None:
    assert check(rule, target, roles=roles) is expected


@pytest.mark.parametrize(
    ("rule", "target", "expected"),
    [
        # flat key, nested dicts, and a mix of both
        ("user_id:%(target.user.id)s", {"target.user.id": "u1"}, True),
        ("user_id:%(target.user.id)s", {"target": {"user": {"id": "u1"}}}, True),
        ("user_id:%(target.user.id)s", {"target.user": {"id": "u1"}}, False),
        ("user_id:%(target.user.id)s", {"target": {"user": {"id": "u2"}}}, False),
        ("user_id:%(target.user.id)s", {"target.user.id": "u1", "target": {"user": {"id": "u2"}}}, True),
        ("user_id:%(user_id)s", {"user_id": "u1"}, True),
        ("user_id:%(target.user.id)s", {}, False),
        ("user_id:%(target.user.id)s", {"target": {"user": None}}, False),
        ("user_id:%(target.user.id)s", {"target": {"user": {"id": None}}}, False),
        ("project_id:%(target.project.id)s", {"target.project.id": None}, False),  # None never matches
        ("user_id:u%(n)s", {"n": 1}, True),
    ],
)
def test_target_substitution_flat_and_nested(rule: str, target: dict[str, Any], expected: bool) -> None:
    assert check(rule, target) is expected


@pytest.mark.parametrize(
    ("rule", "creds_kw", "target", "expected"),
    [
        ("is_admin:True", {"is_admin": True}, {}, True),
        ("is_admin:True", {"is_admin": False}, {}, False),
        ("is_admin:False", {"is_admin": False}, {}, True),
        ("system_scope:all", {"system": True}, {}, True),
        ("system_scope:all", {"project_id": "p1"}, {}, False),
        ("'member':%(target.role.name)s", {}, {"target": {"role": {"name": "member"}}}, True),
        ("'member':%(target.role.name)s", {}, {"target": {"role": {"name": "Member"}}}, False),
        ('"member":%(target.role.name)s', {}, {"target.role.name": "member"}, True),
        ("True:%(target.flag)s", {}, {"target.flag": True}, True),
        ("True:%(target.flag)s", {}, {"target.flag": False}, False),
        # dotted credential keys, nested and flat
        ("token.project.domain.id:d1", {"token": {"project": {"domain": {"id": "d1"}}}}, {}, True),
        ("token.project.domain.id:d1", {"token.project.domain.id": "d1"}, {}, True),
        ("token.project.domain.id:d1", {"token": {"project": {}}}, {}, False),
        # a list credential matches any of its items
        ("service_roles:service", {"service_roles": ["service", "admin"]}, {}, True),
        ("service_roles:service", {"service_roles": []}, {}, False),
        # string forms are compared
        ("project_id:%(target.project_id)s", {"project_id": "42"}, {"target.project_id": 42}, True),
        ("missing_key:x", {}, {}, False),
        ("project_id:%(target.project_id)s", {"project_id": None}, {"target.project_id": "None"}, False),
    ],
)
def test_generic_check_compares_string_forms(
    rule: str, creds_kw: dict[str, Any], target: dict[str, Any], expected: bool
) -> None:
    assert check(rule, target, **creds_kw) is expected


# --- rule: references -----------------------------------------------------------


def test_rule_reference_resolves_named_rule_and_unknown_denies() -> None:
    enforcer = Enforcer(
        [
            RuleDefault("admin_required", "role:admin"),
            RuleDefault("svc:delete", "rule:admin_required or rule:nonexistent"),
            RuleDefault("svc:ghost", "rule:nonexistent"),
        ]
    )
    assert enforcer.enforce("svc:delete", {}, creds("admin")) is True
    assert enforcer.enforce("svc:delete", {}, creds("member")) is False
    assert enforcer.enforce("svc:ghost", {}, creds("admin")) is False


@pytest.mark.parametrize(
    "rules",
    [
        {"loop": "rule:loop"},
        {"loop": "role:x or rule:loop"},
        {"loop": "rule:a", "a": "rule:b", "b": "rule:loop"},
        {"loop": "not rule:loop"},  # a cycle denies the whole decision, even under "not"
        {"loop": "@ and (not rule:a)", "a": "rule:loop"},
    ],
)
def test_rule_reference_cycle_denies_without_recursion_error(
    rules: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    enforcer = Enforcer([RuleDefault(name, check_str) for name, check_str in rules.items()])
    with caplog.at_level(logging.WARNING, logger="litestack.common.policy"):
        assert enforcer.enforce("loop", {}, creds("admin")) is False
    assert "refers to itself" in caplog.text
    with pytest.raises(PolicyNotAuthorized):
        enforcer.authorize("loop", {}, creds("admin"))


def test_direct_check_call_reports_cycle_as_rule_cycle() -> None:
    loop = parse_rule("rule:loop")
    ev = Evaluation(lambda name: loop if name == "loop" else None)
    with pytest.raises(RuleCycle) as info:
        loop({}, creds(), ev)
    assert info.value.rule == "loop"


def test_rule_reference_diamond_is_not_a_cycle() -> None:
    enforcer = Enforcer(
        [
            RuleDefault("base", "role:reader"),
            RuleDefault("left", "rule:base"),
            RuleDefault("right", "rule:base"),
            RuleDefault("top", "rule:left and rule:right"),
        ]
    )
    assert enforcer.enforce("top", {}, creds("reader")) is True


# --- Scope ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("creds_kw", "scope"),
    [
        ({"system": True}, "system"),
        ({"project_id": "p1"}, "project"),
        ({"domain_id": "d1"}, "domain"),
        ({"domain_id": "d1", "project_id": "p1"}, "project"),
        ({}, None),
    ],
)
def test_token_scope_from_creds(creds_kw: dict[str, Any], scope: str | None) -> None:
    assert token_scope(creds(**creds_kw)) == scope


SYSTEM_ADMIN = creds("admin", "member", "reader", system=True)
DOMAIN_ADMIN = creds("admin", "member", "reader", domain_id="d1")
PROJECT_MEMBER = creds("member", "reader", project_id="p1")
UNSCOPED = creds("admin")


@pytest.mark.parametrize(
    ("scope_types", "who", "expected"),
    [
        (["project"], SYSTEM_ADMIN, False),
        (["project"], DOMAIN_ADMIN, False),
        (["project"], PROJECT_MEMBER, True),
        (["project"], UNSCOPED, False),
        (["system"], SYSTEM_ADMIN, True),
        (["system"], PROJECT_MEMBER, False),
        (["domain"], DOMAIN_ADMIN, True),
        (["domain"], SYSTEM_ADMIN, False),
        (["system", "domain", "project"], SYSTEM_ADMIN, True),
        (["system", "domain", "project"], UNSCOPED, False),
        (None, UNSCOPED, True),
        (None, SYSTEM_ADMIN, True),
    ],
)
def test_scope_types_are_always_enforced(
    scope_types: list[str] | None, who: dict[str, Any], expected: bool
) -> None:
    enforcer = Enforcer([RuleDefault("svc:act", "@", scope_types=scope_types)])
    assert enforcer.enforce("svc:act", {}, who) is expected


def test_scope_mismatch_raises_invalid_scope_naming_both_scopes() -> None:
    enforcer = Enforcer([RuleDefault("compute:create", "role:admin", scope_types=["project"])])
    with pytest.raises(InvalidScope) as info:
        enforcer.authorize("compute:create", {}, SYSTEM_ADMIN)
    err = info.value
    assert isinstance(err, PolicyNotAuthorized)
    assert err.status == 403
    assert err.rule == "compute:create"
    assert err.token_scope == "system"
    assert err.scope_types == ("project",)
    assert "compute:create" in str(err)
    assert "project" in str(err)
    assert "system-scoped" in str(err)


def test_unscoped_token_message_says_unscoped() -> None:
    enforcer = Enforcer([RuleDefault("svc:act", "@", scope_types=["project"])])
    with pytest.raises(InvalidScope, match="unscoped"):
        enforcer.authorize("svc:act", {}, UNSCOPED)


def test_scope_types_survive_a_permissive_override(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"svc:act": "@"\n')
    enforcer = Enforcer([RuleDefault("svc:act", "role:admin", scope_types=["project"])], path)
    assert enforcer.enforce("svc:act", {}, PROJECT_MEMBER) is True
    assert enforcer.enforce("svc:act", {}, SYSTEM_ADMIN) is False


# --- authorize / errors -----------------------------------------------------------


def test_authorize_denial_raises_policy_not_authorized_with_rule() -> None:
    enforcer = Enforcer([RuleDefault("identity:create_user", "role:admin")])
    enforcer.authorize("identity:create_user", {}, creds("admin"))  # no raise
    with pytest.raises(PolicyNotAuthorized) as info:
        enforcer.authorize("identity:create_user", {}, creds("reader"))
    err = info.value
    assert not isinstance(err, InvalidScope)
    assert isinstance(err, Forbidden)
    assert err.status == 403
    assert err.rule == "identity:create_user"
    assert str(err) == "You are not authorized to perform the requested action: identity:create_user."


@pytest.mark.parametrize("method", ["enforce", "authorize"])
def test_unknown_rule_name_raises_policy_not_registered(method: str) -> None:
    enforcer = Enforcer([RuleDefault("svc:known", "@")])
    with pytest.raises(PolicyNotRegistered) as info:
        getattr(enforcer, method)("svc:typo", {}, creds())
    assert isinstance(info.value, LitestackError)
    assert info.value.status == 500
    assert info.value.rule == "svc:typo"


def test_works_with_request_context_creds() -> None:
    ctx = RequestContext(user_id="u1", project_id="p1", project_domain_id="default", roles=["Member"])
    enforcer = Enforcer(
        [RuleDefault("svc:show", "role:member and project_id:%(project_id)s", scope_types=["project"])]
    )
    assert enforcer.enforce("svc:show", {"project_id": "p1"}, ctx.policy_creds()) is True
    assert enforcer.enforce("svc:show", {"project_id": "p2"}, ctx.policy_creds()) is False


# --- Registration -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": "", "check_str": "@"},
        {"name": "x", "check_str": "role:a and"},
        {"name": "x", "check_str": "@", "scope_types": ["tenant"]},
        {"name": "x", "check_str": "@", "scope_types": []},
        {"name": "x", "check_str": "@", "scope_types": ["project", "project"]},
        {"name": "x", "check_str": "@", "scope_types": "project"},
        {"name": "x", "check_str": "@", "operations": [{"path": "/v3/users"}]},
        {"name": "x", "check_str": "@", "operations": [{"path": "/v3/users", "method": "GET", "x": "y"}]},
    ],
)
def test_invalid_rule_default_raises_value_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RuleDefault(**kwargs)


def test_duplicate_rule_name_raises_value_error() -> None:
    enforcer = Enforcer([RuleDefault("a", "@")])
    with pytest.raises(ValueError, match="already registered"):
        enforcer.register_default(RuleDefault("a", "!"))
    with pytest.raises(ValueError, match="already registered"):
        Enforcer([RuleDefault("b", "@"), RuleDefault("b", "!")])
    with pytest.raises(ValueError):
        enforcer.register_defaults([RuleDefault("c", "@"), RuleDefault("a", "!")])
    assert "c" not in enforcer.dump_effective()  # a failed batch registers nothing


# --- Overrides --------------------------------------------------------------------


DEFAULTS = [
    RuleDefault("admin_required", "role:admin"),
    RuleDefault("svc:list", "role:reader", scope_types=["project"]),
    RuleDefault("svc:delete", "rule:admin_required", scope_types=["project"]),
]


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        (
            "policy.yaml",
            '"svc:list": "role:auditor"\n"svc:delete": "rule:owner"\n"owner": "user_id:%(user_id)s"\n',
        ),
        (
            "policy.json",
            json.dumps(
                {"svc:list": "role:auditor", "svc:delete": "rule:owner", "owner": "user_id:%(user_id)s"}
            ),
        ),
        (
            "policy.yml",
            "{'svc:list': 'role:auditor', 'svc:delete': 'rule:owner', 'owner': 'user_id:%(user_id)s'}",
        ),
    ],
)
def test_overrides_file_replaces_check_strings(tmp_path: Path, filename: str, content: str) -> None:
    path = tmp_path / filename
    path.write_text(content)
    enforcer = Enforcer(DEFAULTS)
    enforcer.load_overrides(path)
    auditor = creds("auditor", project_id="p1")
    assert enforcer.enforce("svc:list", {}, auditor) is True
    assert enforcer.enforce("svc:list", {}, creds("reader", project_id="p1")) is False
    # an override-only rule is usable through rule:
    assert enforcer.enforce("svc:delete", {"user_id": "u1"}, auditor) is True
    assert enforcer.enforce("svc:delete", {"user_id": "u2"}, creds("admin", project_id="p1")) is False
    assert enforcer.dump_effective() == {
        "admin_required": "role:admin",
        "svc:list": "role:auditor",
        "svc:delete": "rule:owner",
        "owner": "user_id:%(user_id)s",
    }
    assert enforcer.check_str("svc:list") == "role:auditor"


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("policy.yaml", "- role:admin\n"),
        ("policy.yaml", '"svc:list": 3\n'),
        ("policy.yaml", '"svc:list": ["role:admin"]\n'),
        ("policy.yaml", '1: "role:admin"\n'),
        ("policy.yaml", '"svc:list": "role:admin\n'),
        ("policy.yaml", '"svc:list": {"a": "b"}\n'),
        ("policy.json", '{"svc:list": "role:admin",}'),
        ("policy.json", '"role:admin"'),
        ("policy.yaml", b"\xff\xfe"),
    ],
)
def test_invalid_overrides_file_raises_config_error(
    tmp_path: Path, filename: str, content: str | bytes
) -> None:
    path = tmp_path / filename
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError):
        Enforcer(DEFAULTS, overrides_path=path)


def test_missing_overrides_file_raises_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Cannot read"):
        Enforcer(DEFAULTS, overrides_path=tmp_path / "nope.yaml")


def test_failed_reload_keeps_previous_overrides(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text('"svc:list": "role:auditor"\n')
    bad = tmp_path / "bad.yaml"
    bad.write_text("[not, a, mapping]\n")
    enforcer = Enforcer(DEFAULTS, overrides_path=str(good))
    with pytest.raises(ConfigError):
        enforcer.load_overrides(bad)
    assert enforcer.check_str("svc:list") == "role:auditor"


def test_reload_replaces_rather_than_merges(tmp_path: Path) -> None:
    first = tmp_path / "first.yaml"
    first.write_text('"svc:list": "role:auditor"\n')
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing overridden\n")
    enforcer = Enforcer(DEFAULTS, overrides_path=first)
    enforcer.load_overrides(empty)
    assert enforcer.check_str("svc:list") == "role:reader"


def test_malformed_override_denies_and_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    parse_rule.cache_clear()
    path = tmp_path / "policy.yaml"
    path.write_text('"svc:list": "role:reader and"\n')
    with caplog.at_level(logging.WARNING, logger="litestack.common.policy"):
        enforcer = Enforcer(DEFAULTS, overrides_path=path)
    assert "role:reader and" in caplog.text  # reported at load time, not at first request
    assert enforcer.enforce("svc:list", {}, creds("reader", project_id="p1")) is False


def test_override_of_deprecated_name_applies_to_new_rule(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    default = RuleDefault(
        "identity:get_user",
        "role:reader",
        deprecated_rule=DeprecatedRule("identity:show_user", "rule:admin_required"),
    )
    path = tmp_path / "policy.yaml"
    path.write_text('"identity:show_user": "role:auditor"\n')
    with caplog.at_level(logging.WARNING, logger="litestack.common.policy"):
        enforcer = Enforcer([default], overrides_path=path)
    assert "deprecated" in caplog.text
    assert enforcer.enforce("identity:get_user", {}, creds("auditor")) is True
    assert enforcer.enforce("identity:get_user", {}, creds("reader")) is False
    # an override of the new name wins over the old one
    path.write_text('"identity:show_user": "role:auditor"\n"identity:get_user": "role:reader"\n')
    enforcer.load_overrides(path)
    assert enforcer.enforce("identity:get_user", {}, creds("auditor")) is False


# --- Keystone-style rules ---------------------------------------------------------

GET_USER = (
    "(role:reader and system_scope:all) or "
    "(role:reader and domain_id:%(target.user.domain_id)s) or "
    "user_id:%(target.user.id)s"
)
ADMIN_OR_OWNER = "role:admin or project_id:%(project_id)s"
USER = {"target": {"user": {"id": "u9", "domain_id": "d1"}}}


@pytest.mark.parametrize(
    ("rule", "who", "target", "expected"),
    [
        (GET_USER, creds("reader", user_id="x", system=True), USER, True),
        (GET_USER, creds("member", user_id="x", system=True), USER, False),
        (GET_USER, creds("reader", user_id="x", domain_id="d1"), USER, True),
        (GET_USER, creds("reader", user_id="x", domain_id="d2"), USER, False),
        (GET_USER, creds("reader", user_id="x", project_id="p1"), USER, False),
        (GET_USER, creds(user_id="u9", project_id="p1"), USER, True),  # self, any scope
        (GET_USER, creds(user_id="u9", project_id="p1"), {"target.user.id": "u9"}, True),
        (GET_USER, creds("reader", user_id="x", domain_id="d1"), {"target.user.domain_id": "d1"}, True),
        (GET_USER, creds("admin", user_id="x", domain_id="d1"), {}, False),
        (ADMIN_OR_OWNER, creds(project_id="p1"), {"project_id": "p1"}, True),
        (ADMIN_OR_OWNER, creds(project_id="p1"), {"project_id": "p2"}, False),
        (ADMIN_OR_OWNER, creds("admin", project_id="p1"), {"project_id": "p2"}, True),
        (ADMIN_OR_OWNER, creds(), {"project_id": None}, False),  # unscoped never "owns" a None project
    ],
)
def test_keystone_style_rules(rule: str, who: dict[str, Any], target: dict[str, Any], expected: bool) -> None:
    enforcer = Enforcer([RuleDefault("rule", rule)])
    assert enforcer.enforce("rule", target, who) is expected


# --- Sample dumps -----------------------------------------------------------------

DOCUMENTED = [
    RuleDefault(
        "identity:get_user",
        GET_USER,
        description="Show user details.\nSecond line.",
        scope_types=["system", "domain", "project"],
        operations=[
            {"path": "/v3/users/{user_id}", "method": "get"},
            {"path": "/v3/users/{user_id}", "method": "HEAD"},
        ],
        deprecated_rule=DeprecatedRule("identity:show_user", "rule:admin_required", "Use scopes.", "T"),
    ),
    RuleDefault("admin_required", "role:admin"),
    RuleDefault('odd "name"', "'member':%(target.role.name)s or name:'a: b # c'"),
]


def test_dump_defaults_yaml_documents_and_parses_back() -> None:
    enforcer = Enforcer(DOCUMENTED)
    text = enforcer.dump_defaults()
    assert yaml.safe_load(text) == {d.name: d.check_str for d in DOCUMENTED}
    assert "# Show user details.\n# Second line.\n" in text
    assert "# operations: GET /v3/users/{user_id}\n# operations: HEAD /v3/users/{user_id}\n" in text
    assert "# scope_types: [system, domain, project]\n" in text
    assert '# DEPRECATED: "identity:show_user": "rule:admin_required" is deprecated since T' in text
    assert "# Use scopes.\n" in text


def test_dump_defaults_commented_is_a_template() -> None:
    enforcer = Enforcer(DOCUMENTED)
    text = enforcer.dump_defaults(commented=True)
    assert yaml.safe_load(text) is None
    assert '#"admin_required": "role:admin"' in text.splitlines()
    uncommented = "\n".join(line[1:] if line.startswith('#"') else line for line in text.splitlines())
    assert yaml.safe_load(uncommented) == {d.name: d.check_str for d in DOCUMENTED}


def test_dump_defaults_ignores_overrides_and_dump_effective_applies_them(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"admin_required": "role:root"\n')
    enforcer = Enforcer(DOCUMENTED, overrides_path=path)
    assert yaml.safe_load(enforcer.dump_defaults())["admin_required"] == "role:admin"
    assert enforcer.dump_effective()["admin_required"] == "role:root"


def test_dump_defaults_json_and_unknown_format() -> None:
    enforcer = Enforcer(DOCUMENTED)
    assert json.loads(enforcer.dump_defaults("json")) == {d.name: d.check_str for d in DOCUMENTED}
    with pytest.raises(ValueError, match="format"):
        enforcer.dump_defaults("toml")  # type: ignore[arg-type]
