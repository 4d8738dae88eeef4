"""The compute service's calls to the network service (REST, as Nova's ``network.neutron``).

The API checks what a user asks for with the user's own token (networks, ports and security
groups must be visible to them: 400 otherwise). The compute agent then creates or takes the
ports with the service token, binds them to its host (``binding:host_id``, ``device_owner``
``compute:<az>``, ``device_id`` the server), and unbinds or deletes them when the server goes.
What the agent learns of each port (MAC, fixed IPs, network name) is kept on the instance, as
Nova's network info cache, so that showing servers does not call the network service.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any
from urllib.parse import quote

from litestack.common import errors

LOG = logging.getLogger(__name__)


def segment(ident: str) -> str:
    """A path segment of the network API from user input: quoted, and never "." or ".." (which
    would name the collection or its parent)."""
    if not ident.strip("."):
        raise errors.NotFound(f"{ident!r} could not be found.")
    return quote(ident, safe="")


class NetworkError(errors.BadRequest):
    """A network, port or fixed IP the request names cannot be used (400, as Nova says it)."""


class Network:
    def __init__(self, client: Any) -> None:
        self.client = client

    async def _get(self, path: str, token: str | None = None, **params: Any) -> Any:
        r = await self.client.request("GET", "network", path, user_token=token, params=params or None)
        return r

    # --- the API: check a request with the user's token ------------------------------

    async def resolve(self, token: str, requested: list[dict[str, Any]] | str | None,
                      security_groups: list[str], project_id: str | None = None
                      ) -> tuple[list[dict[str, Any]], list[str]]:
        """The networks to plug (``[{"network_id", "port_id", "fixed_ip"}]``) and the security
        group ids. ``None`` (2.1 without ``networks``) and ``"auto"``: the project's networks
        (and shared ones) when exactly one exists, none when none, except that ``"auto"`` (2.37)
        then asks the network service for the project's auto-allocated topology (Neutron's
        "get me a network"); ``"none"``: no network."""
        if requested == "none":
            nets: list[dict[str, Any]] = []
        elif not requested or requested == "auto":  # 2.1: none named (or []) means every available network
            r = await self._get("/v2.0/networks", token)
            if r.status_code != 200:
                raise errors.ServiceUnavailable(f"The network service answered {r.status_code}.")
            visible = [n for n in r.json()["networks"] if not n.get("router:external")]
            if len(visible) > 1:
                raise errors.Conflict("Multiple possible networks found, use a Network ID to be more specific.")
            nets = [{"network_id": n["id"], "port_id": None, "fixed_ip": None} for n in visible]
            if not visible and requested == "auto" and project_id:
                r = await self._get(f"/v2.0/auto-allocated-topology/{segment(project_id)}", token)
                if r.status_code != 200:
                    raise errors.BadRequest("Unable to automatically allocate a network for project "
                                            f"{project_id}: {r.text[:200]}")
                nets = [{"network_id": r.json()["auto_allocated_topology"]["id"], "port_id": None,
                         "fixed_ip": None}]
        else:
            nets = []
            for item in requested if isinstance(requested, list) else []:
                port_id, net_id, fixed = item.get("port"), item.get("uuid"), item.get("fixed_ip")
                if port_id:
                    r = await self._get(f"/v2.0/ports/{segment(port_id)}", token)
                    if r.status_code == 404:
                        raise NetworkError(f"Port {port_id} could not be found.")
                    port = r.json()["port"]
                    if port.get("device_id"):
                        raise errors.Conflict(f"Port {port_id} is still in use.")
                    nets.append({"network_id": port["network_id"], "port_id": port_id, "fixed_ip": None})
                    continue
                r = await self._get(f"/v2.0/networks/{segment(str(net_id))}", token)
                if r.status_code == 404:
                    raise NetworkError(f"Network {net_id} could not be found.")
                if fixed is not None:
                    try:
                        ipaddress.ip_address(fixed)
                    except ValueError:
                        raise NetworkError(f"Invalid fixed IP address ({fixed})") from None
                nets.append({"network_id": net_id, "port_id": None, "fixed_ip": fixed})
        group_ids: list[str] = []
        for name in security_groups:
            r = await self._get("/v2.0/security-groups", token, name=name)
            found = r.json().get("security_groups", []) if r.status_code == 200 else []
            if not found:
                r = await self._get(f"/v2.0/security-groups/{segment(name)}", token)
                found = [r.json()["security_group"]] if r.status_code == 200 else []
            if not found:
                raise NetworkError(f"Security group {name} not found for project.")
            group_ids.append(found[0]["id"])
        return nets, group_ids

    # --- the agent: plug and unplug with the service token ---------------------------

    async def has_l2_agent(self, host: str) -> bool:
        """Whether the network service reports an alive L2 agent on ``host`` (then, and only
        then, a network-vif-plugged event can come)."""
        r = await self._get("/v2.0/agents", host=host)
        if r.status_code != 200:
            return False
        return any(a.get("alive") and a.get("admin_state_up", True) for a in r.json().get("agents", []))

    async def bind(self, instance: Any, host: str, az: str, net: dict[str, Any],
                   group_ids: list[str]) -> dict[str, Any]:
        """Create (or take) one port for the instance and bind it to ``host``; its cache entry."""
        binding = {"binding:host_id": host, "device_id": instance.id, "device_owner": f"compute:{az}"}
        if net.get("port_id"):
            r = await self.client.request("PUT", "network", f"/v2.0/ports/{net['port_id']}",
                                          json={"port": binding})
            created = False
        else:
            body: dict[str, Any] = {"network_id": net["network_id"], "project_id": instance.project_id,
                                    "admin_state_up": True, **binding}
            if net.get("fixed_ip"):
                body["fixed_ips"] = [{"ip_address": net["fixed_ip"]}]
            if group_ids:
                body["security_groups"] = group_ids
            r = await self.client.request("POST", "network", "/v2.0/ports", json={"port": body})
            created = True
        if r.status_code not in (200, 201):
            raise NetworkError(f"Port binding for instance {instance.id} failed: {r.status_code} {r.text[:200]}")
        port = r.json()["port"]
        name = await self.network_name(port["network_id"])
        return {"id": port["id"], "network_id": port["network_id"], "network_name": name, "created": created,
                "mac": port["mac_address"], "ips": [ip["ip_address"] for ip in port.get("fixed_ips", [])]}

    async def refresh(self, ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The cache entries of ``ports`` with their fixed IPs and floating IPs as the network
        service has them now (a port it no longer has keeps its last entry)."""
        fresh: list[dict[str, Any]] = []
        for entry in ports:
            r = await self._get(f"/v2.0/ports/{entry['id']}")
            if r.status_code != 200:
                fresh.append(entry)
                continue
            port = r.json()["port"]
            f = await self._get("/v2.0/floatingips", port_id=entry["id"])
            floating = [fip["floating_ip_address"] for fip in f.json().get("floatingips", [])] \
                if f.status_code == 200 else entry.get("floating_ips", [])
            fresh.append({**entry, "ips": [ip["ip_address"] for ip in port.get("fixed_ips", [])],
                          "floating_ips": floating})
        return fresh

    async def network_name(self, network_id: str) -> str:
        r = await self._get(f"/v2.0/networks/{network_id}")
        return str(r.json()["network"]["name"]) if r.status_code == 200 else network_id

    async def release(self, ports: list[dict[str, Any]]) -> None:
        """Delete the ports the compute service made; unbind and keep the user's own (idempotent)."""
        for p in ports:
            if p.get("created"):
                r = await self.client.request("DELETE", "network", f"/v2.0/ports/{p['id']}")
            else:
                r = await self.client.request("PUT", "network", f"/v2.0/ports/{p['id']}", json={"port": {
                    "binding:host_id": "", "device_id": "", "device_owner": ""}})
            if r.status_code not in (200, 204, 404):
                raise errors.ServiceUnavailable(f"Releasing port {p['id']} failed ({r.status_code}).")

    async def rebind(self, ports: list[dict[str, Any]], host: str) -> None:
        """Bind the instance's ports to ``host`` (a move's destination; ``""``: unbound, as an
        offloaded shelved server's ports are): Nova's ``migrate_instance_finish``/``setup_networks_on_host``."""
        for p in ports:
            r = await self.client.request("PUT", "network", f"/v2.0/ports/{p['id']}",
                                          json={"port": {"binding:host_id": host}})
            if r.status_code not in (200, 404):
                raise NetworkError(f"Binding port {p['id']} to host {host!r} failed: {r.status_code} {r.text[:200]}")

    async def ports_of(self, instance_id: str) -> list[dict[str, Any]]:
        """Every port whose device is the instance (finds what a crash left unrecorded)."""
        r = await self._get("/v2.0/ports", device_id=instance_id)
        return list(r.json().get("ports", [])) if r.status_code == 200 else []

    async def all_ports(self, instance: Any) -> list[dict[str, Any]]:
        """The ports recorded on the instance plus any bound to it but not recorded (a crash between
        the port's creation and its record); the ones the user did not name were made for it."""
        ports = list(instance.ports or [])
        known = {p["id"] for p in ports}
        theirs = {n.get("port_id") for n in (instance.request or {}).get("networks", [])}
        ports += [{"id": p["id"], "created": p["id"] not in theirs} for p in await self.ports_of(instance.id)
                  if p["id"] not in known]
        return ports

    async def change_groups(self, token: str, instance: Any, name: str, add: bool) -> None:
        """Add a security group to (or remove it from) every port of the instance, as the user."""
        _nets, found = await self.resolve(token, "none", [name])
        group = found[0]
        if not instance.ports:
            raise errors.BadRequest(f"Instance {instance.id} has no network interface to apply a security group to.")
        for p in instance.ports:
            r = await self._get(f"/v2.0/ports/{p['id']}", token)
            if r.status_code != 200:
                raise errors.ServiceUnavailable(f"The network service answered {r.status_code}.")
            groups = list(r.json()["port"].get("security_groups", []))
            if add and group in groups:
                raise errors.BadRequest(f"Security group {name} is already associated with the instance {instance.id}")
            if not add and group not in groups:
                raise errors.BadRequest(f"Security group {name} not associated with the instance {instance.id}")
            groups = [*groups, group] if add else [g for g in groups if g != group]
            r = await self.client.request("PUT", "network", f"/v2.0/ports/{p['id']}", user_token=token,
                                          json={"port": {"security_groups": groups}})
            if r.status_code != 200:
                raise errors.BadRequest(f"Changing the security groups of port {p['id']} failed: {r.text[:200]}")
