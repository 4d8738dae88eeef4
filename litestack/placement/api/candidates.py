"""``GET /allocation_candidates`` (1.10): where a request for resources could be placed."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op
from litestack.common.db import run_blocking
from litestack.placement import errors
from litestack.placement.api.base import (
    PlacementAPI,
    at_least,
    check_uuid,
    need,
    parse_member_of,
    parse_resources,
    parse_traits,
    query,
    single,
)
from litestack.placement.manager.candidates import Group
from litestack.placement.manager.candidates import Request as CandidateRequest

KEYS = ("resources", "required", "member_of", "in_tree")
_NUMBERED = re.compile(r"^(resources|required|member_of|in_tree)([1-9][0-9]*)$")
_SUFFIXED = re.compile(r"^(resources|required|member_of|in_tree)([A-Za-z0-9_-]{1,64})$")


#: The parameters without a group suffix, and the microversion each came with.
_PLAIN = {"resources": "1.10", "required": "1.17", "member_of": "1.21", "limit": "1.16", "group_policy": "1.25",
          "in_tree": "1.31", "root_required": "1.35", "same_subtree": "1.36"}


def _split(request: Request, key: str) -> tuple[str, str] | None:
    """(parameter, group suffix) of a query key, or None for one this microversion does not know."""
    since = _PLAIN.get(key)
    if since is not None:
        return (key, "") if at_least(request, since) else None
    if not at_least(request, "1.25"):
        return None
    m = (_SUFFIXED if at_least(request, "1.33") else _NUMBERED).match(key)
    if m is None or (m.group(1) == "in_tree" and not at_least(request, "1.31")):
        return None
    return m.group(1), m.group(2)


def parse(request: Request) -> CandidateRequest:
    q = query(request, lambda k: _split(request, k) is not None)
    by_suffix: dict[str, dict[str, list[str]]] = {}
    for key, values in q.items():
        name, suffix = _split(request, key) or (key, "")
        if name in KEYS:
            by_suffix.setdefault(suffix, {})[name] = values
    groups = []
    subtrees = [{x.strip() for x in v.split(",")} for v in q.get("same_subtree", [])]
    in_subtree = set().union(*subtrees) if subtrees else set()
    unknown = sorted(in_subtree - {x for x in by_suffix if x})
    if unknown:
        raise errors.bad_query(f"Real suffixes should be specified in same_subtree: {unknown} not found in "
                               f"{sorted(x for x in by_suffix if x)}.")
    for suffix, params in sorted(by_suffix.items()):
        res = params.get("resources")
        if not res and not (suffix and suffix in in_subtree):
            if suffix and at_least(request, "1.36"):
                raise errors.bad_query("Resourceless suffixed group request should be specified in `same_subtree` "
                                       f"query param: bad group(s) - ['{suffix}'].")
            where = f"resources{suffix}" if suffix else "resources"
            raise errors.bad_query(f"All request groups must specify resources. The group with suffix "
                                   f"'{suffix}' has {', '.join(sorted(params))} but no {where}.",
                                   errors.QUERY_MISSING_VALUE)
        if res and len(res) > 1:
            raise errors.bad_query(f"Query parameter 'resources{suffix}' may be given once.",
                                   errors.QUERY_DUPLICATE_KEY)
        g = Group(suffix, parse_resources(res[0], f"resources{suffix}") if res else {})
        if "required" in params:
            g.traits = parse_traits(params["required"], request, f"required{suffix}")
        if "member_of" in params:
            g.member_of = parse_member_of(params["member_of"], request)
        if "in_tree" in params:
            if len(params["in_tree"]) > 1:
                raise errors.bad_query(f"Query parameter 'in_tree{suffix}' may be given once.",
                                       errors.QUERY_DUPLICATE_KEY)
            g.in_tree = check_uuid(params["in_tree"][0], "in_tree")
        groups.append(g)
    if not groups or ("" not in by_suffix and not at_least(request, "1.25")):
        raise errors.bad_query("Invalid query string parameters: 'resources' is a required property",
                               errors.QUERY_MISSING_VALUE)
    req = CandidateRequest(groups, same_subtree=subtrees)
    numbered = [g for g in groups if g.suffix and g.resources]
    policy = single(q, "group_policy")
    if policy is not None and policy not in ("none", "isolate"):
        raise errors.bad_query(f"Invalid query string parameters: '{policy}' is not one of ['none', 'isolate']")
    if len(numbered) > 1 and policy is None:
        raise errors.bad_query('The "group_policy" parameter is required when specifying more than one '
                               '"resources{N}" parameter.', errors.QUERY_MISSING_VALUE)
    req.isolate = policy == "isolate"
    if (limit := single(q, "limit")) is not None:
        if not limit.isdigit() or int(limit) < 1:
            raise errors.bad_query(f"Invalid query string parameters: Failed validating 'pattern': {limit!r}")
        req.limit = int(limit)
    if "root_required" in q:
        req.root_traits = parse_traits(q["root_required"], request, "root_required")
    return req


def ops(api: PlacementAPI) -> list[Op]:
    mgr = api.mgr

    async def candidates(request: Request) -> Response:
        need(request, "1.10")
        req = parse(request)
        found = await run_blocking(mgr.candidates.find, req)
        requested = {rc for g in req.groups for rc in g.resources}
        if at_least(request, "1.12"):
            reqs: list[dict[str, Any]] = []
            for alloc, mapping in found.requests:
                item: dict[str, Any] = {"allocations": {rp: {"resources": res} for rp, res in alloc.items()}}
                if at_least(request, "1.34"):
                    item["mappings"] = mapping
                reqs.append(item)
        else:
            reqs = [{"allocations": [{"resource_provider": {"uuid": rp}, "resources": res}
                                     for rp, res in alloc.items()]} for alloc, _m in found.requests]
        summaries: dict[str, Any] = {}
        for rp, summ in found.summaries.items():
            res = summ["resources"]
            if not at_least(request, "1.27"):
                res = {rc: val for rc, val in res.items() if rc in requested}
            out: dict[str, Any] = {"resources": res}
            if at_least(request, "1.17"):
                out["traits"] = summ["traits"]
            if at_least(request, "1.29"):
                out["parent_provider_uuid"] = summ["parent_provider_uuid"]
                out["root_provider_uuid"] = summ["root_provider_uuid"]
            summaries[rp] = out
        return JSON({"allocation_requests": reqs, "provider_summaries": summaries})

    return [Op("GET", "/allocation_candidates", candidates, "List allocation candidates",
               rule="placement:allocation_candidates:list", tag="allocation_candidates",
               query=("resources", "required", "member_of", "in_tree", "limit", "group_policy", "root_required",
                      "same_subtree"),
               response={"type": "object", "required": ["allocation_requests", "provider_summaries"]})]
