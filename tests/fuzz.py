"""Schemathesis fuzzing of a service's API, driven by the OpenAPI document it publishes.

Every service's fuzz test uses ``fuzz``: each operation gets a few generated requests (valid
and invalid) with an admin token, plus valid ones whose path parameters are the IDs of real
throw-away resources (so that requests get past the lookup and exercise the handlers). The
server must never answer 5xx, successful responses must match the published schema, and status
codes must be ones the document declares.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import BaseSchema, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.conftest import RunningCloud


def admin_token(cloud: RunningCloud) -> str:
    """A project-scoped admin token of ``cloud`` (no catalog)."""
    auth = cloud.clouds()["litestack-admin"]["auth"]
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"],  # type: ignore[index]
        "domain": {"name": "Default"}}}},
        "scope": {"project": {"name": "admin", "domain": {"name": "Default"}}}}}
    r = httpx.post(f"{cloud.auth_url}/v3/auth/tokens?nocatalog", json=body, timeout=30)
    assert r.status_code == 201, r.text
    return r.headers["x-subject-token"]


def openapi(base_url: str, token: str) -> BaseSchema:
    """The service's published document (``<base_url>/openapi.json``), requests sent with ``token``."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    schema.config.update(base_url=base_url, headers={"X-Auth-Token": token})
    return schema


@dataclass
class FuzzResult:
    ran: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # by class: 2, 4, 5
    failures: list[str] = field(default_factory=list)


def fuzz(schema: BaseSchema, ids: Mapping[str, str], examples: int,
         excluded: Sequence[tuple[str, str]] = ()) -> FuzzResult:
    """Fuzz every operation of ``schema`` but the ``excluded`` (method regex, path regex) ones;
    ``ids`` are real values for path parameters by name. Failures are collected, not raised, so
    one report covers every operation."""
    # (schemathesis' own pytest integration, ``schemathesis.pytest.from_fixture``, does not run
    # under pytest 9; this is one Hypothesis run per operation.)
    checks = [not_a_server_error, response_schema_conformance, status_code_conformance]
    out = FuzzResult()

    def skip(ctx: object) -> bool:
        op = ctx.operation  # type: ignore[attr-defined]
        return any(re.fullmatch(m, op.method.upper()) and re.search(p, op.path) for m, p in excluded)

    for result in schema.exclude(skip).get_all_operations():
        if isinstance(result, Err):
            out.failures.append(f"unusable operation in the OpenAPI document: {result.err()}")
            continue
        op = result.ok()
        strategies = [op.as_strategy(GenerationMode.POSITIVE)]
        with contextlib.suppress(Exception):  # not every operation has something to make invalid
            strategies.append(op.as_strategy(GenerationMode.NEGATIVE))
        names = {p.name for p in op.path_parameters}
        if names and names <= set(ids):
            strategies.append(op.as_strategy(GenerationMode.POSITIVE, path_parameters={n: ids[n] for n in names}))

        @given(case=st.one_of(strategies))
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
        def run(case: schemathesis.Case) -> None:
            response = case.call_and_validate(checks=checks, timeout=30)
            out.statuses[response.status_code // 100] += 1

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:
            out.failures.append(f"{op.method.upper()} {op.path}: {exc}")
        out.ran += 1
    return out
