"""Policy on every route: each registered Op of each service names a registered rule.

A route without a rule would be open to any authenticated caller; a rule name with a typo would
fail only when the route is first called. The dispatcher enforces the rule an Op names, so this
walk over the Op tables is what guarantees every route is guarded.
"""

from __future__ import annotations

from typing import Any

import pytest

from litestack.common.api.app import Op, build_app
from litestack.common.policy import Enforcer, RuleDefault
from litestack.common.service import registry, resolve

pytestmark = pytest.mark.unit


def op_table(spec: Any) -> list[Op]:
    """A service's Op table, built as its app builds it (the spec's ``ops`` reference)."""
    assert spec.ops is not None, f"service {spec.name} declares no Op table (ServiceSpec.ops)"
    table: list[Op] = resolve(spec.ops)()
    return table


SERVICES = list(registry())


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_every_op_names_a_registered_rule(spec: Any) -> None:
    rules: list[RuleDefault] = spec.rules()
    known = {r.name for r in rules}
    missing = [f"{op.method} {op.path}" for op in op_table(spec) if not op.public and not op.rule]
    unknown = [f"{op.method} {op.path}: {r}" for op in op_table(spec) for r in op.rules if r not in known]
    assert not missing, f"{spec.name}: routes that name no policy rule: {missing}"
    assert not unknown, f"{spec.name}: routes naming unregistered rules: {unknown}"


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_documented_operations_come_from_the_op_table(spec: Any) -> None:
    """``policy dump`` shows, for each rule, the routes that check it, read from the Op table."""
    ops = op_table(spec)
    for rule in spec.rules():
        expected = [{"method": op.method, "path": op.path} for op in ops if rule.name in op.rules]
        got = [dict(o) for o in rule.operations]
        assert sorted(map(str, got)) == sorted(map(str, {str(e): e for e in expected}.values())), rule.name


def test_identity_guards_its_routes() -> None:
    """A sample of routes and the rules that guard them (what an operator's policy file overrides)."""
    by_route = {(op.method, op.path): op.rules for op in op_table(registry()["identity"])}
    assert by_route[("GET", "/v3/domains/{domain_id}")] == ("identity:get_domain",)
    assert by_route[("GET", "/v3/users")] == ("identity:list_users",)
    assert by_route[("GET", "/v3/OS-TRUST/trusts")] == (
        "identity:list_trusts", "identity:list_trusts_for_trustor", "identity:list_trusts_for_trustee")
    assert by_route[("PUT", "/v3/projects/{target_id}/users/{actor_id}/roles/{role_id}")] == (
        "identity:create_grant",)


def test_an_op_naming_an_unknown_rule_is_refused_when_the_app_is_built() -> None:
    async def handler(request: Any) -> Any:
        raise AssertionError("never called")

    enforcer = Enforcer([RuleDefault("thing:get", "")])
    with pytest.raises(ValueError, match="thing:gte"):
        build_app("identity", [Op("GET", "/things", handler, rule="thing:gte")], enforcer=enforcer)
