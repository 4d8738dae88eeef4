"""The policy engine every litestack service uses.

Rules are written in the oslo.policy rule language so that operators can reuse
their existing ``policy.yaml`` files::

    role:admin                     the caller has the role (case-insensitive)
    rule:admin_required            another rule, by name
    @  /  ""  /  !                 always / always / never
    is_admin:True                  a credential compared with a literal
    user_id:%(target.user.id)s     a credential compared with a target value
    'member':%(target.role.name)s  a quoted literal compared with a target value
    not X,  X and Y,  X or Y, ( )  with precedence not > and > or

A service declares its rules as ``RuleDefault`` objects, hands them to an
``Enforcer`` and calls ``Enforcer.authorize`` in its API handlers. Scope is
always enforced: a rule with ``scope_types`` denies a token of any other scope,
whatever its check string says.

Deliberate differences from oslo.policy:

* A rule text that does not parse denies as a whole (oslo denies only the
  unparsable check inside it). A default rule that does not parse is a
  programming error and raises ``ValueError`` when the ``RuleDefault`` is built.
* A generic check never matches when either side is ``None``: an unscoped token
  (``project_id`` None) must not match a target whose ``project_id`` is None.
* Deprecated rules only rename: an operator override of the old name applies to
  the new rule, but the old default check string is not ORed in.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from litestack.common.errors import ConfigError, Forbidden, LitestackError

LOG = logging.getLogger(__name__)

SCOPE_TYPES: frozenset[str] = frozenset({"system", "domain", "project"})

# Deeper nesting than this is not a policy anyone writes by hand; refusing it
# keeps the recursive-descent parser and the evaluator clear of RecursionError.
MAX_NESTING = 64


# --- Errors ------------------------------------------------------------------


class PolicyNotAuthorized(Forbidden):
    """Raised by ``Enforcer.authorize`` when a rule denies the caller.

    ``rule`` is the name of the rule that was checked.
    """

    def __init__(self, rule: str, message: str | None = None, **data: Any) -> None:
        self.rule = rule
        super().__init__(
            message or f"You are not authorized to perform the requested action: {rule}.",
            rule=rule,
            **data,
        )


class InvalidScope(PolicyNotAuthorized):
    """Raised by ``Enforcer.authorize`` when the token's scope is not one of the rule's ``scope_types``.

    ``token_scope`` is ``'system'``, ``'domain'``, ``'project'`` or None (unscoped);
    ``scope_types`` are the scopes the rule accepts.
    """

    def __init__(self, rule: str, token_scope: str | None, scope_types: Sequence[str]) -> None:
        self.token_scope = token_scope
        self.scope_types = tuple(scope_types)
        scope = f"{token_scope}-scoped" if token_scope else "unscoped"
        super().__init__(
            rule,
            f"You are not authorized to perform the requested action: {rule}. "
            f"The rule requires a token scoped to {' or '.join(self.scope_types)}, "
            f"but the token is {scope}.",
            token_scope=token_scope,
            scope_types=list(self.scope_types),
        )


class PolicyNotRegistered(LitestackError):
    """Raised by ``Enforcer.enforce``/``authorize`` for a rule name that was never registered.

    That is a programming error in the calling service, hence status 500.
    """

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(f"Policy rule {rule!r} is not registered.", rule=rule)


class PolicySyntaxError(ValueError):
    """Raised by ``parse_rule_strict`` when a rule text does not parse."""


class RuleCycle(Exception):
    """Raised while evaluating a check tree when ``rule:NAME`` leads back to a rule being evaluated.

    ``Enforcer`` turns it into a denial; it only escapes when a ``Check`` is called directly.
    """

    def __init__(self, rule: str) -> None:
        self.rule = rule
        super().__init__(f"policy rule {rule!r} refers to itself")


# --- Value lookup ------------------------------------------------------------

_MISSING: Any = object()


def _lookup(data: Mapping[str, Any], path: str) -> Any:
    """Find ``path`` in ``data`` as a flat key, else by walking nested mappings on dots.

    Returns ``_MISSING`` when neither finds it.
    """
    if path in data:
        return data[path]
    if "." not in path:
        return _MISSING
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


_SUBST = re.compile(r"%\(([^()]+)\)s")


@dataclass(frozen=True)
class _Template:
    """The right-hand side of a check: literal text with ``%(key)s`` substitutions from the target."""

    parts: tuple[tuple[bool, str], ...]  # (is_key, text)
    source: str

    @classmethod
    def parse(cls, text: str) -> _Template:
        parts: list[tuple[bool, str]] = []
        pos = 0
        for m in _SUBST.finditer(text):
            if m.start() > pos:
                parts.append((False, text[pos : m.start()]))
            parts.append((True, m.group(1)))
            pos = m.end()
        if pos < len(text):
            parts.append((False, text[pos:]))
        if any("%(" in piece for is_key, piece in parts if not is_key):
            raise PolicySyntaxError(f"bad substitution in {text!r}; expected %(key)s")
        return cls(tuple(parts), text)

    def render(self, target: Mapping[str, Any]) -> str | None:
        """The text with substitutions applied; None when a key is missing or None in the target."""
        out: list[str] = []
        for is_key, piece in self.parts:
            if not is_key:
                out.append(piece)
                continue
            value = _lookup(target, piece)
            if value is _MISSING or value is None:
                return None
            out.append(str(value))
        return "".join(out)

    def __str__(self) -> str:
        # Re-quote text the tokenizer would otherwise split, so str() parses back.
        if self.source and not re.search(r"[\s()'\"]", _SUBST.sub("", self.source)):
            return self.source
        quote = "'" if "'" not in self.source else '"'
        return f"{quote}{self.source}{quote}"


# --- Check tree --------------------------------------------------------------


@dataclass(frozen=True)
class Evaluation:
    """State of one policy decision: how to resolve ``rule:NAME`` and which rules are being evaluated.

    ``active`` is the chain of rule names currently being evaluated; a ``rule:``
    reference back into it raises ``RuleCycle`` instead of recursing forever.
    """

    lookup: Callable[[str], Check | None] = field(default=lambda _name: None)
    active: tuple[str, ...] = ()


class Check(ABC):
    """A node of a parsed rule. ``str()`` gives rule text that parses back to an equal tree."""

    @abstractmethod
    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool: ...

    @abstractmethod
    def __str__(self) -> str: ...


@dataclass(frozen=True)
class TrueCheck(Check):
    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        return True

    def __str__(self) -> str:
        return "@"


@dataclass(frozen=True)
class FalseCheck(Check):
    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        return False

    def __str__(self) -> str:
        return "!"


@dataclass(frozen=True)
class NotCheck(Check):
    child: Check

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        return not self.child(target, creds, ev)

    def __str__(self) -> str:
        return f"not {self.child}"


@dataclass(frozen=True)
class AndCheck(Check):
    children: tuple[Check, ...]

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        return all(child(target, creds, ev) for child in self.children)

    def __str__(self) -> str:
        return "(" + " and ".join(str(c) for c in self.children) + ")"


@dataclass(frozen=True)
class OrCheck(Check):
    children: tuple[Check, ...]

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        return any(child(target, creds, ev) for child in self.children)

    def __str__(self) -> str:
        return "(" + " or ".join(str(c) for c in self.children) + ")"


@dataclass(frozen=True)
class RoleCheck(Check):
    """``role:NAME``: NAME (after substitution) is in ``creds['roles']``, ignoring case."""

    match: _Template

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        wanted = self.match.render(target)
        if wanted is None:
            return False
        roles = creds.get("roles") or ()
        return wanted.lower() in {r.lower() for r in roles if isinstance(r, str)}

    def __str__(self) -> str:
        return f"role:{self.match}"


@dataclass(frozen=True)
class RuleCheck(Check):
    """``rule:NAME``: the named rule's check string passes (its scope_types are not re-checked)."""

    name: str

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        if self.name in ev.active:
            LOG.warning("Policy rule %r refers to itself via %s; denying", self.name, " -> ".join(ev.active))
            # Abort the whole decision: returning False here would grant under a ``not``.
            raise RuleCycle(self.name)
        check = ev.lookup(self.name)
        if check is None:
            LOG.debug("Policy rule %r is not defined; denying", self.name)
            return False
        return check(target, creds, Evaluation(ev.lookup, (*ev.active, self.name)))

    def __str__(self) -> str:
        return f"rule:{self.name}"


@dataclass(frozen=True)
class GenericCheck(Check):
    """``KEY:VALUE``: the credential KEY (dotted paths allowed) equals VALUE as strings.

    A list credential matches when VALUE is one of its items. When ``literal`` is
    set the left side was a quoted or boolean literal and is compared instead of
    a credential.
    """

    key: str
    match: _Template
    literal: str | None = None

    def __call__(self, target: Mapping[str, Any], creds: Mapping[str, Any], ev: Evaluation) -> bool:
        wanted = self.match.render(target)
        if wanted is None:
            return False
        if self.literal is not None:
            return wanted == self.literal
        have = _lookup(creds, self.key)
        if have is _MISSING or have is None:
            return False
        if isinstance(have, list | tuple | set | frozenset):
            return wanted in {str(item) for item in have}
        return wanted == str(have)

    def __str__(self) -> str:
        return f"{self.key}:{self.match}"


# --- Parser ------------------------------------------------------------------

_KEYWORDS = frozenset({"and", "or", "not"})
_QUOTES = "'\""


def _tokenize(text: str) -> list[str]:
    """Split rule text into '(', ')', keywords (lower-cased) and check words.

    Parentheses inside ``%(key)s`` and quotes belong to the word, not the grammar.
    """
    tokens: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c in "()":
            tokens.append(c)
            i += 1
            continue
        start = i
        while i < n and not text[i].isspace() and text[i] not in "()":
            if text[i] in _QUOTES:
                close = text.find(text[i], i + 1)
                if close < 0:
                    raise PolicySyntaxError(f"unterminated quote in {text!r}")
                i = close + 1
            elif text.startswith("%(", i):
                close = text.find(")", i + 2)
                if close < 0:
                    raise PolicySyntaxError(f"unterminated substitution in {text!r}")
                i = close + 1
            else:
                i += 1
        word = text[start:i]
        tokens.append(word.lower() if word.lower() in _KEYWORDS else word)
    return tokens


def _unquote(text: str) -> str | None:
    if len(text) >= 2 and text[0] in _QUOTES and text[-1] == text[0]:
        return text[1:-1]
    return None


def _parse_atom(word: str) -> Check:
    if word == "@":
        return TrueCheck()
    if word == "!":
        return FalseCheck()
    literal: str | None = None
    if word[0] in _QUOTES:
        close = word.find(word[0], 1)
        if close < 0 or word[close + 1 : close + 2] != ":":
            raise PolicySyntaxError(f"expected 'literal':value, got {word!r}")
        key, value = word[: close + 1], word[close + 2 :]
        literal = key[1:-1]
    else:
        key, sep, value = word.partition(":")
        if not sep or not key:
            raise PolicySyntaxError(f"expected KIND:VALUE, got {word!r}")
        if key in ("True", "False"):
            literal = key
    if not value:
        raise PolicySyntaxError(f"empty value in {word!r}")
    unquoted = _unquote(value)
    if unquoted is not None:
        value = unquoted
    if literal is None and key == "rule":
        return RuleCheck(value)
    if literal is None and key == "role":
        return RoleCheck(_Template.parse(value))
    return GenericCheck(key, _Template.parse(value), literal)


class _Parser:
    """Recursive descent over tokens: or_expr := and_expr ('or' and_expr)*, and so on down."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.depth = 0

    def parse(self) -> Check:
        if not self.tokens:
            return TrueCheck()
        check = self._or()
        if self.pos != len(self.tokens):
            raise PolicySyntaxError(f"unexpected {self.tokens[self.pos]!r} in {self.text!r}")
        return check

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _or(self) -> Check:
        children = [self._and()]
        while self._peek() == "or":
            self.pos += 1
            children.append(self._and())
        return children[0] if len(children) == 1 else OrCheck(tuple(children))

    def _and(self) -> Check:
        children = [self._not()]
        while self._peek() == "and":
            self.pos += 1
            children.append(self._not())
        return children[0] if len(children) == 1 else AndCheck(tuple(children))

    def _not(self) -> Check:
        if self._peek() == "not":
            self.pos += 1
            with self._nested():
                return NotCheck(self._not())
        return self._atom()

    def _atom(self) -> Check:
        tok = self._peek()
        if tok is None:
            raise PolicySyntaxError(f"unexpected end of {self.text!r}")
        self.pos += 1
        if tok == "(":
            with self._nested():
                check = self._or()
            if self._peek() != ")":
                raise PolicySyntaxError(f"missing ')' in {self.text!r}")
            self.pos += 1
            return check
        if tok in _KEYWORDS or tok == ")":
            raise PolicySyntaxError(f"unexpected {tok!r} in {self.text!r}")
        return _parse_atom(tok)

    @contextlib.contextmanager
    def _nested(self) -> Iterator[None]:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise PolicySyntaxError(f"rule nests deeper than {MAX_NESTING} levels")
        try:
            yield
        finally:
            self.depth -= 1


def parse_rule_strict(text: str) -> Check:
    """Parse rule text into a check tree; raise ``PolicySyntaxError`` when it does not parse."""
    return _Parser(text).parse()


@functools.lru_cache(maxsize=4096)
def parse_rule(text: str) -> Check:
    """Parse rule text into a check tree, cached per text.

    Text that does not parse becomes ``!`` (deny) with a logged warning, as
    oslo.policy does, so one bad operator override cannot open access.
    """
    try:
        return parse_rule_strict(text)
    except PolicySyntaxError as exc:
        LOG.warning("Failed to parse policy rule %r (%s); it will deny every request", text, exc)
        return FalseCheck()


# --- Rule declarations -------------------------------------------------------


def token_scope(creds: Mapping[str, Any]) -> str | None:
    """The scope of the token behind ``creds``: 'system', 'project', 'domain' or None (unscoped)."""
    if creds.get("system_scope") == "all":
        return "system"
    if creds.get("project_id"):
        return "project"
    if creds.get("domain_id"):
        return "domain"
    return None


@dataclass(frozen=True)
class DeprecatedRule:
    """The previous name and check string of a rule; an operator override of ``name`` still applies."""

    name: str
    check_str: str
    deprecated_reason: str = ""
    deprecated_since: str = ""


@dataclass(frozen=True)
class RuleDefault:
    """A rule a service registers: its name, default check string and documentation.

    ``scope_types`` (any of 'system', 'domain', 'project'; None means any scope,
    including unscoped) is enforced on every check and cannot be overridden.
    ``operations`` are ``{'method': ..., 'path': ...}`` dicts, used for the
    generated sample policy file. Raises ``ValueError`` for an invalid declaration,
    including a check string that does not parse.
    """

    name: str
    check_str: str
    description: str = ""
    scope_types: Sequence[str] | None = None
    operations: Sequence[Mapping[str, str]] = field(default_factory=tuple)
    deprecated_rule: DeprecatedRule | None = None

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"policy rule name must be a non-empty string, got {self.name!r}")
        try:
            parse_rule_strict(self.check_str)
        except PolicySyntaxError as exc:
            raise ValueError(f"policy rule {self.name!r}: {exc}") from exc
        if self.scope_types is not None:
            if isinstance(self.scope_types, str):
                raise ValueError(f"policy rule {self.name!r}: scope_types must be a list, not a string")
            scopes = tuple(self.scope_types)
            bad = [s for s in scopes if s not in SCOPE_TYPES]
            if bad or not scopes or len(set(scopes)) != len(scopes):
                raise ValueError(
                    f"policy rule {self.name!r}: scope_types must be distinct values of "
                    f"{sorted(SCOPE_TYPES)}, got {list(scopes)}"
                )
            object.__setattr__(self, "scope_types", scopes)
        ops: list[dict[str, str]] = []
        for op in self.operations:
            if set(op) != {"method", "path"} or not all(isinstance(v, str) and v for v in op.values()):
                raise ValueError(f"policy rule {self.name!r}: operation must be {{method, path}}, got {op!r}")
            ops.append({"method": op["method"].upper(), "path": op["path"]})
        object.__setattr__(self, "operations", tuple(ops))


# --- Enforcer ----------------------------------------------------------------


def _read_overrides(path: Path) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"Cannot read policy file {path}: {exc}", path=str(path)) from exc
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"Policy file {path} is not valid YAML/JSON: {exc}", path=str(path)) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"Policy file {path} must map rule names to check strings, got {type(data).__name__}",
            path=str(path),
        )
    bad = [k for k, v in data.items() if not isinstance(k, str) or not isinstance(v, str)]
    if bad:
        raise ConfigError(
            f"Policy file {path}: rule names and check strings must be strings; bad entries: {bad!r}",
            path=str(path),
        )
    return dict(data)


class Enforcer:
    """Holds a service's rules (defaults plus operator overrides) and decides requests against them.

    ``creds`` are the dict from ``RequestContext.policy_creds()``; ``target`` is
    the resource being acted on, e.g. ``{"target": {"user": {...}}}`` or a flat
    ``{"target.user.id": ...}``.
    """

    def __init__(
        self,
        defaults: Iterable[RuleDefault] = (),
        overrides_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self._defaults: dict[str, RuleDefault] = {}
        self._overrides: dict[str, str] = {}
        self._effective: dict[str, str] = {}
        self.register_defaults(defaults)
        if overrides_path is not None:
            self.load_overrides(overrides_path)

    # Registration and overrides

    def register_default(self, default: RuleDefault) -> None:
        """Add one rule; raises ``ValueError`` when its name is already registered."""
        if default.name in self._defaults:
            raise ValueError(f"policy rule {default.name!r} is already registered")
        self._defaults[default.name] = default
        self._rebuild()

    def register_defaults(self, defaults: Iterable[RuleDefault]) -> None:
        """Add several rules; raises ``ValueError`` on a duplicate name and then registers none of them."""
        new: dict[str, RuleDefault] = {}
        for default in defaults:
            if default.name in self._defaults or default.name in new:
                raise ValueError(f"policy rule {default.name!r} is already registered")
            new[default.name] = default
        self._defaults.update(new)
        self._rebuild()

    def load_overrides(self, path: str | os.PathLike[str]) -> None:
        """Replace the operator overrides with a YAML or JSON file of ``{rule_name: check_str}``.

        Names that are not registered defaults become extra rules other rules can
        reference with ``rule:NAME``. Raises ``ConfigError`` when the file cannot
        be read or is not such a mapping; the previous overrides then stay in force.
        """
        self.set_overrides(_read_overrides(Path(path)))

    def set_overrides(self, overrides: Mapping[str, str]) -> None:
        """Replace the operator overrides with ``overrides`` (as ``load_overrides`` does from a file)."""
        self._overrides = dict(overrides)
        self._rebuild()

    def _rebuild(self) -> None:
        effective: dict[str, str] = {}
        for name, default in self._defaults.items():
            old = default.deprecated_rule
            if name in self._overrides:
                effective[name] = self._overrides[name]
            elif old is not None and old.name in self._overrides:
                LOG.warning(
                    "Policy rule %r is deprecated in favour of %r; applying its override to %r. "
                    "Rename it in the policy file.",
                    old.name,
                    name,
                    name,
                )
                effective[name] = self._overrides[old.name]
            else:
                effective[name] = default.check_str
        for name, check_str in self._overrides.items():
            effective.setdefault(name, check_str)
        for check_str in effective.values():
            parse_rule(check_str)  # logs a malformed override now, at load time
        self._effective = effective

    def _lookup_rule(self, name: str) -> Check | None:
        check_str = self._effective.get(name)
        return None if check_str is None else parse_rule(check_str)

    # Decisions

    def _deny_reason(
        self, rule_name: str, target: Mapping[str, Any], creds: Mapping[str, Any]
    ) -> PolicyNotAuthorized | None:
        if rule_name not in self._effective:
            raise PolicyNotRegistered(rule_name)
        default = self._defaults.get(rule_name)
        if default is not None and default.scope_types is not None:
            scope = token_scope(creds)
            if scope not in default.scope_types:
                return InvalidScope(rule_name, scope, default.scope_types)
        check = parse_rule(self._effective[rule_name])
        try:
            allowed = check(target, creds, Evaluation(self._lookup_rule, (rule_name,)))
        except RuleCycle:
            allowed = False
        return None if allowed else PolicyNotAuthorized(rule_name)

    def enforce(self, rule_name: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> bool:
        """Whether ``creds`` may do ``rule_name`` on ``target`` (scope included).

        Raises ``PolicyNotRegistered`` for an unknown rule name.
        """
        return self._deny_reason(rule_name, target, creds) is None

    def authorize(self, rule_name: str, target: Mapping[str, Any], creds: Mapping[str, Any]) -> None:
        """Like ``enforce`` but raise ``PolicyNotAuthorized`` (``InvalidScope`` for a scope mismatch)."""
        denial = self._deny_reason(rule_name, target, creds)
        if denial is not None:
            raise denial

    # Introspection

    @property
    def defaults(self) -> list[RuleDefault]:
        """The registered defaults, in registration order."""
        return list(self._defaults.values())

    def check_str(self, rule_name: str) -> str:
        """The effective check string of a rule; raises ``PolicyNotRegistered`` for an unknown name."""
        try:
            return self._effective[rule_name]
        except KeyError:
            raise PolicyNotRegistered(rule_name) from None

    def dump_effective(self) -> dict[str, str]:
        """Every rule (defaults, then override-only rules) mapped to the check string in force."""
        return dict(self._effective)

    def dump_defaults(self, format: Literal["yaml", "json"] = "yaml", *, commented: bool = False) -> str:
        """A sample policy file of the registered defaults, as ``oslopolicy-sample-generator`` writes.

        YAML output documents each rule in comments (description, operations,
        scope types, deprecation) above its ``"name": "check_str"`` line. With
        ``commented=True`` those lines are commented out too, so the file is a
        template an operator uncomments. JSON output has no documentation.
        """
        if format == "json":
            return json.dumps({d.name: d.check_str for d in self._defaults.values()}, indent=4) + "\n"
        if format != "yaml":
            raise ValueError(f"unknown policy dump format {format!r}; expected 'yaml' or 'json'")
        blocks: list[str] = []
        for d in self._defaults.values():
            lines = [f"# {line}".rstrip() for line in d.description.splitlines()]
            lines += [f"# operations: {op['method']} {op['path']}" for op in d.operations]
            if d.scope_types is not None:
                lines.append(f"# scope_types: [{', '.join(d.scope_types)}]")
            if d.deprecated_rule is not None:
                old = d.deprecated_rule
                since = f" since {old.deprecated_since}" if old.deprecated_since else ""
                lines.append(
                    f"# DEPRECATED: {_yaml_str(old.name)}: {_yaml_str(old.check_str)} "
                    f"is deprecated{since} in favour of {_yaml_str(d.name)}."
                )
                lines += [f"# {line}".rstrip() for line in old.deprecated_reason.splitlines()]
            entry = f"{_yaml_str(d.name)}: {_yaml_str(d.check_str)}"
            lines.append(f"#{entry}" if commented else entry)
            blocks.append("\n".join(lines) + "\n")
        return "\n".join(blocks)


def _yaml_str(text: str) -> str:
    # A JSON string literal is a valid YAML double-quoted scalar, escapes included.
    return json.dumps(text, ensure_ascii=False)
