"""``/extensions``: Nova's (frozen, deprecated) list of API extensions, limited to the ones this
compute API serves, so that a client probing for one learns the truth."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from litestack.common import errors
from litestack.common.api.app import JSON, Op
from litestack.compute.api.base import ComputeAPI

#: (name, alias, description) of each extension whose API is implemented.
EXTENSIONS: tuple[tuple[str, str, str], ...] = (
    ("AdminActions", "os-admin-actions", "Enable admin-only server actions."),
    ("AdminPassword", "os-admin-password", "Admin password management support."),
    ("Aggregates", "os-aggregates", "Admin-only aggregate administration."),
    ("AttachInterfaces", "os-attach-interfaces", "Attach interface support."),
    ("AvailabilityZone", "os-availability-zone", "Availability zones."),
    ("ConsoleOutput", "os-console-output", "Console log output support."),
    ("DeferredDelete", "os-deferred-delete", "Instance deferred delete."),
    ("DiskConfig", "OS-DCF", "Disk Management Extension."),
    ("ExtendedAvailabilityZone", "OS-EXT-AZ", "Extended Availability Zone support."),
    ("ExtendedIps", "OS-EXT-IPS", "Adds type parameter to the ip list."),
    ("ExtendedIpsMac", "OS-EXT-IPS-MAC", "Adds mac address parameter to the ip list."),
    ("ExtendedServerAttributes", "OS-EXT-SRV-ATTR", "Extended Server Attributes support."),
    ("ExtendedStatus", "OS-EXT-STS", "Extended Status support."),
    ("ExtendedVolumes", "os-extended-volumes", "Extended Volumes support."),
    ("FlavorAccess", "os-flavor-access", "Flavor access support."),
    ("FlavorExtraSpecs", "os-flavor-extra-specs", "Flavors extra specs support."),
    ("FlavorManage", "os-flavor-manage", "Flavor create/delete API support."),
    ("Hosts", "os-hosts", "Admin-only host administration."),
    ("Hypervisors", "os-hypervisors", "Admin-only hypervisor administration."),
    ("InstanceActions", "os-instance-actions", "View a log of actions and events taken on an instance."),
    ("Keypairs", "os-keypairs", "Keypair Support."),
    ("Lock", "os-lock-server", "Enable lock/unlock server actions."),
    ("QuotaClasses", "os-quota-class-sets", "Quota classes management support."),
    ("Quotas", "os-quota-sets", "Quotas management support."),
    ("SecurityGroups", "os-security-groups", "Security group support."),
    ("ServerDiagnostics", "os-server-diagnostics", "Allow Admins to view server diagnostics through server id."),
    ("ServerExternalEvents", "os-server-external-events", "Server External Event Triggers."),
    ("ServerGroups", "os-server-groups", "Server group support."),
    ("ServerPassword", "os-server-password", "Server password support."),
    ("ServerUsage", "OS-SRV-USG", "Adds launched_at and terminated_at on Servers."),
    ("Services", "os-services", "Services support."),
    ("SimpleTenantUsage", "os-simple-tenant-usage", "Simple tenant usage extension."),
)


def ops(api: ComputeAPI) -> list[Op]:
    def view(name: str, alias: str, description: str) -> dict[str, Any]:
        return {"name": name, "alias": alias, "description": description, "links": [],
                "namespace": "http://docs.openstack.org/compute/ext/fake_xml", "updated": "2014-12-03T00:00:00Z"}

    async def index(request: Request) -> Response:
        return JSON({"extensions": [view(*e) for e in EXTENSIONS]})

    async def show(request: Request) -> Response:
        alias = api.param(request, "alias")
        found = next((e for e in EXTENSIONS if e[1] == alias), None)
        if found is None:
            raise errors.NotFound(f"Extension {alias} could not be found.")
        return JSON({"extension": view(*found)})

    return [Op("GET", "/v2.1/extensions", index, rule="os_compute_api:extensions", tag="extensions"),
            Op("GET", "/v2.1/extensions/{alias}", show, rule="os_compute_api:extensions", tag="extensions")]
