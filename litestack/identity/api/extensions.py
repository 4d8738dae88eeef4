"""Policies, OAuth1 consumers, endpoint groups (OS-EP-FILTER) and domain configurations."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common.api.app import JSON, Op, no_content
from litestack.common.api.crud import Resource, crud_ops
from litestack.common.api.policy import body
from litestack.common.api.resource import self_link
from litestack.common.api.schema import DESC, NAME, NSTR, OBJ, SELF_LINK, STR, listing, obj, single, wrapped
from litestack.identity import models as m
from litestack.identity.api import views
from litestack.identity.api.service import IdentityAPI


def _update(key: str, props: dict[str, Any]) -> dict[str, Any]:
    """An update body: ``{key: {...}}`` with at least one attribute."""
    schema = wrapped(key, props)
    schema["properties"][key]["minProperties"] = 1
    return schema


POLICY_PROPS = {"blob": {"type": "string"}, "type": {"type": "string", "maxLength": 255}}
CREATE_POLICY = wrapped("policy", POLICY_PROPS, ["blob", "type"])
UPDATE_POLICY = _update("policy", POLICY_PROPS)
CONSUMER_PROPS = {"description": DESC}
CREATE_CONSUMER = wrapped("consumer", CONSUMER_PROPS)
UPDATE_CONSUMER = _update("consumer", CONSUMER_PROPS)
EP_GROUP_PROPS = {"name": NAME, "description": DESC, "filters": {"type": "object"}}
CREATE_EP_GROUP = wrapped("endpoint_group", EP_GROUP_PROPS, ["name", "filters"])
UPDATE_EP_GROUP = _update("endpoint_group", EP_GROUP_PROPS)
CONFIG = {"type": "object", "required": ["config"], "properties": {"config": {"type": "object"}}}

EP = "/v3/OS-EP-FILTER"
DCONF = "/v3/domains/{domain_id}/config"


def _self(base: str, path: str) -> dict[str, Any]:
    return self_link(f"{base}{IdentityAPI.prefix}/{path}")


def policy_view(base: str, p: m.Policy) -> dict[str, Any]:
    return {**p.extra, "id": p.id, "type": p.type, "blob": p.blob, "links": _self(base, f"policies/{p.id}")}


def consumer_view(base: str, c: m.OAuthConsumer) -> dict[str, Any]:
    return {**c.extra, "id": c.id, "description": c.description,
            "links": _self(base, f"OS-OAUTH1/consumers/{c.id}")}


def endpoint_group_view(base: str, g: m.EndpointGroup) -> dict[str, Any]:
    return {"id": g.id, "name": g.name, "description": g.description, "filters": dict(g.filters),
            "links": _self(base, f"OS-EP-FILTER/endpoint_groups/{g.id}")}


POLICY = obj({"id": STR, "type": STR, "blob": STR, "links": SELF_LINK})
CONSUMER = obj({"id": STR, "description": NSTR, "links": SELF_LINK}, {"secret": STR})
ENDPOINT_GROUP = obj({"id": STR, "name": STR, "description": NSTR, "filters": OBJ, "links": SELF_LINK})
CONFIG_BODY = single("config", OBJ)


def ops(api: IdentityAPI) -> list[Op]:
    mgr = api.mgr

    # --- policies, OAuth1 consumers, endpoint groups: declared resources --------------------

    policies = Resource(
        "policies", "policy", "policies", "policy_id", policy_view, "identity:{verb}_policy", tag="policies",
        item=POLICY,
        query=("type",), lister=lambda r, limit: mgr.extensions.list_policies(r.query_params.get("type"), limit),
        getter=mgr.extensions.get_policy, creator=mgr.extensions.create_policy,
        updater=mgr.extensions.update_policy, deleter=mgr.extensions.delete_policy,
        create_body=CREATE_POLICY, update_body=UPDATE_POLICY)
    consumers = Resource(
        "consumers", "consumer", "OS-OAUTH1/consumers", "consumer_id", consumer_view, "identity:{verb}_consumer",
        item=CONSUMER,
        tag="OS-OAUTH1", lister=lambda r, limit: mgr.extensions.list_consumers(limit),
        getter=mgr.extensions.get_consumer,
        creator=mgr.extensions.create_consumer, updater=mgr.extensions.update_consumer,
        deleter=mgr.extensions.delete_consumer,
        create_body=CREATE_CONSUMER, update_body=UPDATE_CONSUMER,
        # The secret is shown once, when the consumer is created.
        created_view=lambda base, made: {**consumer_view(base, made[0]), "secret": made[1]},
        summaries={"list": "List OAuth1 consumers",
                   "create": "Create an OAuth1 consumer (the secret is shown only here)",
                   "get": "Show an OAuth1 consumer", "update": "Update an OAuth1 consumer",
                   "delete": "Delete an OAuth1 consumer"})
    endpoint_groups = Resource(
        "endpoint_groups", "endpoint_group", "OS-EP-FILTER/endpoint_groups", "endpoint_group_id",
        endpoint_group_view, "identity:{verb}_endpoint_group", tag="OS-EP-FILTER", query=("name",), item=ENDPOINT_GROUP,
        lister=lambda r, limit: mgr.extensions.list_endpoint_groups(r.query_params.get("name"), limit),
        getter=mgr.extensions.get_endpoint_group, creator=mgr.extensions.create_endpoint_group,
        updater=mgr.extensions.update_endpoint_group,
        deleter=mgr.extensions.delete_endpoint_group, create_body=CREATE_EP_GROUP, update_body=UPDATE_EP_GROUP,
        summaries={"get": "Show (or, with HEAD, check) an endpoint group"})

    # --- OS-ENDPOINT-POLICY -----------------------------------------------------------------

    def association_handlers(kind: str, params: tuple[str, ...]) -> tuple[Any, Any, Any]:
        """PUT, GET (check) and DELETE of a policy's association with one kind of target."""

        def where(request: Request) -> dict[str, str]:
            return {p: api.param(request, p) for p in params}

        async def put(request: Request) -> Response:
            await api.run(lambda: mgr.extensions.associate_policy(api.param(request, "policy_id"), **where(request)))
            return no_content()

        async def check(request: Request) -> Response:
            await api.run(lambda: mgr.extensions.check_policy_association(api.param(request, "policy_id"),
                                                                          **where(request)))
            return no_content()

        async def remove(request: Request) -> Response:
            await api.run(lambda: mgr.extensions.delete_policy_association(api.param(request, "policy_id"),
                                                                **where(request)))
            return no_content()

        return put, check, remove

    list_policy_endpoints = api.related(mgr.extensions.list_endpoints_for_policy,
                                        "policy_id", "endpoints", views.endpoint,
                                        "policies/{}/OS-ENDPOINT-POLICY/endpoints", limited=True)

    async def endpoint_policy(request: Request) -> Response:
        policy = await api.run(mgr.extensions.policy_for_endpoint, api.param(request, "endpoint_id"))
        return JSON({"policy": policy_view(api.base(request), policy)})

    # --- OAuth1 consumers -----------------------------------------------------------------

    # --- endpoint groups ------------------------------------------------------------------

    list_group_endpoints = api.related(mgr.extensions.list_endpoints_in_group, "endpoint_group_id", "endpoints",
                                       views.endpoint,
                                       "OS-EP-FILTER/endpoint_groups/{}/endpoints", limited=True)
    list_group_projects = api.related(mgr.extensions.list_projects_for_endpoint_group, "endpoint_group_id", "projects",
                                      views.project, "OS-EP-FILTER/endpoint_groups/{}/projects", limited=True)
    add_group_project = api.action(mgr.extensions.add_endpoint_group_to_project,
                                   "endpoint_group_id", "project_id")

    async def get_group_project(request: Request) -> Response:
        proj = await api.run(mgr.extensions.get_endpoint_group_in_project, api.param(request, "endpoint_group_id"),
                             api.param(request, "project_id"))
        return JSON({"project": views.project(api.base(request), proj)})

    remove_group_project = api.action(mgr.extensions.remove_endpoint_group_from_project, "endpoint_group_id",
                                      "project_id")
    list_project_groups = api.related(mgr.extensions.list_endpoint_groups_for_project, "project_id", "endpoint_groups",
                                      endpoint_group_view, "OS-EP-FILTER/projects/{}/endpoint_groups", limited=True)
    add_project_endpoint = api.action(mgr.extensions.add_endpoint_to_project,
                                      "project_id", "endpoint_id")
    check_project_endpoint = api.action(mgr.extensions.check_endpoint_in_project,
                                        "project_id", "endpoint_id")
    remove_project_endpoint = api.action(mgr.extensions.remove_endpoint_from_project, "project_id", "endpoint_id")
    list_project_endpoints = api.related(mgr.extensions.list_endpoints_for_project,
                                         "project_id", "endpoints", views.endpoint,
                                         "OS-EP-FILTER/projects/{}/endpoints", limited=True)
    list_endpoint_projects = api.related(mgr.extensions.list_projects_for_endpoint,
                                         "endpoint_id", "projects", views.project,
                                         "OS-EP-FILTER/endpoints/{}/projects", limited=True)

    # --- domain configurations ------------------------------------------------------------

    def _where(request: Request) -> tuple[str, str | None, str | None]:
        p = request.path_params
        group = api.param(request, "group") if "group" in p else None
        option = api.param(request, "option") if "option" in p else None
        return api.param(request, "domain_id"), group, option

    config_target = api.path_target(domain_id="domain_id")

    async def put_config(request: Request) -> Response:
        config = body(request)["config"]
        domain_id = api.param(request, "domain_id")
        out, created = await api.run(mgr.extensions.create_domain_config, domain_id, config)
        return JSON({"config": out}, status_code=201 if created else 200)

    async def get_config(request: Request) -> Response:
        domain_id, group, option = _where(request)
        return JSON({"config": await api.run(mgr.extensions.get_domain_config, domain_id, group, option)})

    async def update_config(request: Request) -> Response:
        config = body(request)["config"]
        domain_id, group, option = _where(request)
        return JSON({"config": await api.run(mgr.extensions.update_domain_config, domain_id, config, group, option)})

    async def delete_config(request: Request) -> Response:
        domain_id, group, option = _where(request)
        await api.run(mgr.extensions.delete_domain_config, domain_id, group, option)
        return no_content()

    async def get_config_default(request: Request) -> Response:
        p = request.path_params
        group = api.param(request, "group") if "group" in p else None
        option = api.param(request, "option") if "option" in p else None
        return JSON({"config": mgr.extensions.default_domain_config(group, option)})

    w = (400, 401, 403, 404, 409)
    cfg_resp = CONFIG_BODY
    te, td = "OS-EP-FILTER", "domain configuration"
    out = [
        *crud_ops(api, policies),
        *crud_ops(api, consumers),
        *crud_ops(api, endpoint_groups),
        Op("GET", EP + "/endpoint_groups/{endpoint_group_id}/endpoints", list_group_endpoints,
           "List the endpoints an endpoint group matches", response=listing("endpoints", views.ENDPOINT), tag=te,
           rule="identity:list_endpoints_associated_with_endpoint_group"),
        Op("GET", EP + "/endpoint_groups/{endpoint_group_id}/projects", list_group_projects,
           "List the projects associated with an endpoint group", response=listing("projects", views.PROJECT), tag=te,
           rule="identity:list_projects_associated_with_endpoint_group"),
        Op("PUT", EP + "/endpoint_groups/{endpoint_group_id}/projects/{project_id}", add_group_project,
           "Associate an endpoint group with a project", status=204, tag=te, errors=w,
           rule="identity:add_endpoint_group_to_project"),
        Op("GET", EP + "/endpoint_groups/{endpoint_group_id}/projects/{project_id}", get_group_project,
           "Show (or, with HEAD, check) an endpoint group's association with a project",
           response=single("project", views.PROJECT), tag=te, rule="identity:get_endpoint_group_in_project"),
        Op("DELETE", EP + "/endpoint_groups/{endpoint_group_id}/projects/{project_id}", remove_group_project,
           "Remove an endpoint group's association with a project", status=204, tag=te,
           rule="identity:remove_endpoint_group_from_project"),
        Op("GET", EP + "/projects/{project_id}/endpoint_groups", list_project_groups,
           "List the endpoint groups associated with a project", response=listing("endpoint_groups", ENDPOINT_GROUP),
           tag=te, rule="identity:list_endpoint_groups_for_project"),
        Op("PUT", EP + "/projects/{project_id}/endpoints/{endpoint_id}", add_project_endpoint,
           "Associate an endpoint with a project (its tokens' catalog is filtered)", status=204, tag=te,
           rule="identity:add_endpoint_to_project"),
        Op("GET", EP + "/projects/{project_id}/endpoints/{endpoint_id}", check_project_endpoint,
           "Check (GET or HEAD) an endpoint's association with a project", status=204, tag=te,
           rule="identity:check_endpoint_in_project"),
        Op("DELETE", EP + "/projects/{project_id}/endpoints/{endpoint_id}", remove_project_endpoint,
           "Remove an endpoint's association with a project", status=204, tag=te,
           rule="identity:remove_endpoint_from_project"),
        Op("GET", EP + "/projects/{project_id}/endpoints", list_project_endpoints,
           "List the endpoints associated with a project", response=listing("endpoints", views.ENDPOINT), tag=te,
           rule="identity:list_endpoints_for_project"),
        Op("GET", EP + "/endpoints/{endpoint_id}/projects", list_endpoint_projects,
           "List the projects associated with an endpoint", response=listing("projects", views.PROJECT), tag=te,
           rule="identity:list_projects_for_endpoint"),
        Op("GET", "/v3/domains/config/default", get_config_default, "Show the default domain configuration",
           response=cfg_resp, tag=td, rule="identity:get_domain_config_default"),
        Op("GET", "/v3/domains/config/{group}/default", get_config_default,
           "Show the default configuration of a group", response=cfg_resp, tag=td,
           rule="identity:get_domain_config_default"),
        Op("GET", "/v3/domains/config/{group}/{option}/default", get_config_default,
           "Show the default of one option", response=cfg_resp, tag=td, rule="identity:get_domain_config_default"),
    ]
    pep = "/v3/policies/{policy_id}/OS-ENDPOINT-POLICY"
    for kind, path, params, what in (
            ("endpoint", "/endpoints/{endpoint_id}", ("endpoint_id",), "an endpoint"),
            ("service", "/services/{service_id}", ("service_id",), "a service (all its endpoints)"),
            ("region_and_service", "/services/{service_id}/regions/{region_id}", ("service_id", "region_id"),
             "a service in a region and its sub-regions")):
        put, check, remove = association_handlers(kind, params)
        out += [Op("PUT", pep + path, put, f"Associate a policy with {what}", status=204, tag="OS-ENDPOINT-POLICY",
                   rule=f"identity:create_policy_association_for_{kind}"),
                Op("GET", pep + path, check, f"Check (GET or HEAD) a policy's association with {what}", status=204,
                   tag="OS-ENDPOINT-POLICY", rule=f"identity:check_policy_association_for_{kind}"),
                Op("DELETE", pep + path, remove, f"Remove a policy's association with {what}", status=204,
                   tag="OS-ENDPOINT-POLICY", rule=f"identity:delete_policy_association_for_{kind}")]
    out += [Op("GET", pep + "/endpoints", list_policy_endpoints, "List the endpoints a policy is associated with",
               response=listing("endpoints", views.ENDPOINT), tag="OS-ENDPOINT-POLICY",
           rule="identity:list_endpoints_for_policy"),
            Op("GET", "/v3/endpoints/{endpoint_id}/OS-ENDPOINT-POLICY/policy", endpoint_policy,
               "Show the policy of an endpoint (its own, its service's in its region, or its service's)",
               response=single("policy", POLICY), tag="OS-ENDPOINT-POLICY", rule="identity:get_policy_for_endpoint")]
    for path, what in ((DCONF, "a domain's configuration"), (DCONF + "/{group}", "one group of it"),
                       (DCONF + "/{group}/{option}", "one option of it")):
        out += [
            Op("GET", path, get_config, f"Show {what}", response=cfg_resp, tag=td,
               rule="identity:get_domain_config", target=config_target),
            Op("PATCH", path, update_config, f"Update {what}", body=CONFIG, response=cfg_resp, tag=td, errors=w,
               rule="identity:update_domain_config", target=config_target),
            Op("DELETE", path, delete_config, f"Delete {what}", status=204, tag=td,
               rule="identity:delete_domain_config", target=config_target),
        ]
    out.append(Op("PUT", DCONF, put_config, "Create (or replace) a domain's configuration", body=CONFIG,
                   response=cfg_resp, status=201, tag=td, errors=w, rule="identity:create_domain_config",
                   target=config_target))
    return out
