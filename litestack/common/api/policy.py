"""How an API route names its policy rule and the target the rule is checked against.

Every non-public ``Op`` names a rule; the dispatcher (``common/api/app.py``) checks it before
the handler runs, so a handler cannot forget to. When the rule needs the resource the path
names, the ``Op`` also has a target loader: it loads the resource, stashes it for the handler
(no second lookup) and returns the ``Target`` to check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.requests import Request

from litestack.common.api.middleware import context_of
from litestack.common.policy import Enforcer, RuleDefault


@dataclass(frozen=True)
class Target:
    """What a rule is checked against.

    ``rule`` replaces the Op's rule when the loader finds that another of the Op's declared rules
    applies (a project id that names a domain is checked against ``get_domain``). ``missing`` is
    the ``NotFound`` to raise after the check when the resource does not exist: the rule is checked
    against the empty target first, so a caller who could not see the resource anyway gets 403,
    not a 404 that would tell them it is absent.
    """

    values: Mapping[str, Any] = field(default_factory=lambda: {"target": {}})
    rule: str | None = None
    missing: Exception | None = None


TargetLoader = Callable[[Request], Awaitable[Target]]


def policy_target(nested: Mapping[str, Any] | None = None, **flat: Any) -> dict[str, Any]:
    """A policy target: rules name flat attributes both ways, ``%(domain_id)s`` and
    ``%(target.domain_id)s``, and nested ones as ``%(target.user.domain_id)s``."""
    return {"target": {**flat, **(nested or {})}, **flat}


def target(nested: Mapping[str, Any] | None = None, **flat: Any) -> Target:
    return Target(policy_target(nested, **flat))


def policy_creds(request: Request) -> dict[str, Any]:
    """The caller's credentials as rules see them (oslo.policy shape plus Keystone's ``token.*``)."""
    c = context_of(request)
    creds = c.policy_creds()
    creds["token"] = {"domain": {"id": c.domain_id},
                      "project": {"id": c.project_id, "domain": {"id": c.project_domain_id}}}
    return creds


def enforce(enforcer: Enforcer, request: Request, rule: str, tgt: Target) -> None:
    """Check ``rule`` for the caller of ``request``; raise the denial, else the target's ``missing``."""
    enforcer.authorize(rule, tgt.values, policy_creds(request))
    if tgt.missing is not None:
        raise tgt.missing


def stash(request: Request, obj: Any) -> None:
    """Keep what a target loader loaded, for the handler."""
    request.state.loaded = obj


def loaded(request: Request) -> Any:
    """What the Op's target loader stashed."""
    return request.state.loaded


def body(request: Request) -> Any:
    """The request body, parsed and validated against the Op's ``body`` schema by the dispatcher."""
    return request.state.body


def with_operations(defaults: Sequence[RuleDefault], ops: Iterable[Any]) -> list[RuleDefault]:
    """The rule defaults with their documented ``operations`` taken from the Op table: every
    method and path whose Op may check the rule (so they are never written a second time)."""
    by_rule: dict[str, list[dict[str, str]]] = {}
    for op in ops:
        for rule in op.rules:
            entry = {"method": op.method, "path": op.path}
            if entry not in by_rule.setdefault(rule, []):
                by_rule[rule].append(entry)
    return [replace(d, operations=tuple(by_rule[d.name])) if d.name in by_rule else d for d in defaults]
