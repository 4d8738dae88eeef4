"""Default policy of the compute service, as Nova's 2024 defaults (``nova/policies``).

Rule names are Nova's own (``os_compute_api:servers:create``, …), so an operator's Nova
``policy.yaml`` applies unchanged. Targets carry ``project_id`` (and ``user_id``) of the server, or
the caller's own project for collections; another project's server is 404 before any rule (see
``ComputeAPI.server_loader``). Flavors are readable by any authenticated user, as in Nova (which
has no rule for them; ours are named ``os_compute_api:flavors:*``).
"""

from __future__ import annotations

from litestack.common.api.policy import with_operations
from litestack.common.policy import RuleDefault
from litestack.compute.api import op_table

PROJECT = ["project"]
ADMIN = "rule:context_is_admin"
MEMBER = "rule:project_member_or_admin"
READER = "rule:project_reader_or_admin"


def _r(name: str, check: str, desc: str) -> RuleDefault:
    return RuleDefault(name, check, desc, scope_types=PROJECT)


_BASE = [
    RuleDefault("context_is_admin", "role:admin", "The cloud administrator."),
    RuleDefault("admin_api", "role:admin", "Admin-only APIs."),
    RuleDefault("project_member_api", "role:member and project_id:%(project_id)s", "A member of the project."),
    RuleDefault("project_reader_api", "role:reader and project_id:%(project_id)s", "A reader of the project."),
    RuleDefault("project_member_or_admin", "rule:project_member_api or rule:context_is_admin",
                "A member of the project, or an admin."),
    RuleDefault("project_reader_or_admin", "rule:project_reader_api or rule:context_is_admin",
                "A reader of the project, or an admin."),
    RuleDefault("service_api", "role:service", "Service-to-service calls."),
    RuleDefault("service_or_admin", "rule:service_api or rule:context_is_admin", "A service user, or an admin."),
]

_S = "os_compute_api:servers"
_DEFAULTS: list[RuleDefault] = [
    *_BASE,
    _r("os_compute_api:flavors:index", "@", "List flavors (any authenticated user)."),
    _r("os_compute_api:flavors:show", "@", "Show a flavor (any authenticated user)."),
    _r("os_compute_api:os-flavor-manage:create", ADMIN, "Create a flavor."),
    _r("os_compute_api:os-flavor-manage:update", ADMIN, "Update a flavor."),
    _r("os_compute_api:os-flavor-manage:delete", ADMIN, "Delete a flavor."),
    _r("os_compute_api:os-flavor-extra-specs:index", "@", "List a flavor's extra specs."),
    _r("os_compute_api:os-flavor-extra-specs:show", "@", "Show a flavor extra spec."),
    _r("os_compute_api:os-flavor-extra-specs:create", ADMIN, "Create flavor extra specs."),
    _r("os_compute_api:os-flavor-extra-specs:update", ADMIN, "Update a flavor extra spec."),
    _r("os_compute_api:os-flavor-extra-specs:delete", ADMIN, "Delete a flavor extra spec."),
    _r("os_compute_api:os-flavor-access", ADMIN, "List the projects that may use a private flavor."),
    _r("os_compute_api:os-flavor-access:add_tenant_access", ADMIN,
       "Add or remove a project's access to a private flavor."),
    _r("os_compute_api:os-flavor-access:remove_tenant_access", ADMIN, "Remove a project's access to a flavor."),
    _r("os_compute_api:os-keypairs:index", f"{ADMIN} or user_id:%(user_id)s", "List key pairs."),
    _r("os_compute_api:os-keypairs:create", f"{ADMIN} or user_id:%(user_id)s", "Create or import a key pair."),
    _r("os_compute_api:os-keypairs:show", f"{ADMIN} or user_id:%(user_id)s", "Show a key pair."),
    _r("os_compute_api:os-keypairs:delete", f"{ADMIN} or user_id:%(user_id)s", "Delete a key pair."),
    _r(f"{_S}:index", READER, "List the project's servers."),
    _r(f"{_S}:detail", READER, "List the project's servers with details."),
    _r(f"{_S}:show", READER, "Show a server."),
    _r(f"{_S}:create", MEMBER, "Create servers."),
    _r(f"{_S}:update", MEMBER, "Update a server."),
    _r(f"{_S}:delete", MEMBER, "Delete a server."),
    _r(f"{_S}:stop", MEMBER, "Stop a server."),
    _r(f"{_S}:start", MEMBER, "Start a server."),
    _r(f"{_S}:reboot", MEMBER, "Reboot a server."),
    _r(f"{_S}:rebuild", MEMBER, "Rebuild a server from an image (same ports and addresses)."),
    _r("os_compute_api:os-pause-server:pause", MEMBER, "Pause a server."),
    _r("os_compute_api:os-pause-server:unpause", MEMBER, "Unpause a server."),
    _r("os_compute_api:os-suspend-server:suspend", MEMBER, "Suspend a server."),
    _r("os_compute_api:os-suspend-server:resume", MEMBER, "Resume a server."),
    _r("os_compute_api:os-lock-server:lock", MEMBER, "Lock a server."),
    _r("os_compute_api:os-lock-server:unlock", MEMBER, "Unlock a server."),
    _r("os_compute_api:os-console-output", MEMBER, "Show a server's console output."),
    _r("os_compute_api:os-admin-actions:reset_state", ADMIN, "Reset a server's state."),
    _r("os_compute_api:server-metadata:index", READER, "List a server's metadata."),
    _r("os_compute_api:server-metadata:show", READER, "Show a server metadata item."),
    _r("os_compute_api:server-metadata:create", MEMBER, "Add server metadata."),
    _r("os_compute_api:server-metadata:update", MEMBER, "Set a server metadata item."),
    _r("os_compute_api:server-metadata:update_all", MEMBER, "Replace a server's metadata."),
    _r("os_compute_api:server-metadata:delete", MEMBER, "Delete a server metadata item."),
    _r("os_compute_api:ips:index", READER, "List a server's addresses."),
    _r("os_compute_api:ips:show", READER, "List a server's addresses on one network."),
    _r("os_compute_api:os-instance-actions:list", READER, "List a server's actions."),
    _r("os_compute_api:os-deferred-delete:restore", MEMBER, "Restore a soft-deleted server."),
    _r("os_compute_api:os-deferred-delete:force", MEMBER, "Delete a soft-deleted server at once."),
    _r("os_compute_api:os-admin-actions:inject_network_info", ADMIN,
       "Read a server's ports again from the network service."),
    _r("os_compute_api:os-admin-password", MEMBER, "Change a server's administrator password."),
    _r("os_compute_api:servers:trigger_crash_dump", MEMBER, "Send an NMI to a server (2.17)."),
    _r("os_compute_api:os-server-diagnostics", ADMIN, "Show a server's diagnostics."),
    _r("os_compute_api:os-remote-consoles", MEMBER, "Open a remote console of a server."),
    _r("os_compute_api:os-virtual-interfaces", READER, "List a server's virtual interfaces (nova-network only)."),
    _r("os_compute_api:os-server-password:show", READER, "Show a server's encrypted password."),
    _r("os_compute_api:os-server-password:clear", MEMBER, "Clear a server's encrypted password."),
    _r("os_compute_api:os-attach-interfaces:list", READER, "List a server's interfaces."),
    _r("os_compute_api:os-attach-interfaces:show", READER, "Show a server interface."),
    _r("os_compute_api:os-attach-interfaces:create", MEMBER, "Attach an interface (port or network) to a server."),
    _r("os_compute_api:os-attach-interfaces:delete", MEMBER, "Detach an interface from a server."),
    _r("os_compute_api:os-server-tags:index", READER, "List a server's tags."),
    _r("os_compute_api:os-server-tags:show", READER, "Check a server tag."),
    _r("os_compute_api:os-server-tags:update", MEMBER, "Add a server tag."),
    _r("os_compute_api:os-server-tags:update_all", MEMBER, "Replace a server's tags."),
    _r("os_compute_api:os-server-tags:delete", MEMBER, "Delete a server tag."),
    _r("os_compute_api:os-server-tags:delete_all", MEMBER, "Delete all of a server's tags."),
    _r("os_compute_api:os-instance-actions:show", READER, "Show a server action."),
    _r("os_compute_api:os-services:list", ADMIN, "List compute services."),
    _r("os_compute_api:os-services:update", ADMIN, "Enable or disable a compute service."),
    _r("os_compute_api:os-services:delete", ADMIN, "Delete a compute service."),
    _r("os_compute_api:os-hypervisors:list", ADMIN, "List hypervisors."),
    _r("os_compute_api:os-hypervisors:list-detail", ADMIN, "List hypervisors with details."),
    _r("os_compute_api:os-hypervisors:show", ADMIN, "Show a hypervisor."),
    _r("os_compute_api:os-hypervisors:statistics", ADMIN, "Show hypervisor statistics."),
    _r("os_compute_api:os-hypervisors:search", ADMIN, "Find hypervisors by host name."),
    _r("os_compute_api:os-hypervisors:servers", ADMIN, "List the servers of hypervisors found by host name."),
    _r("os_compute_api:extensions", "@", "List the API extensions (any authenticated user)."),
    _r("os_compute_api:os-hypervisors:uptime", ADMIN, "Show a hypervisor's uptime."),
    *(_r(f"os_compute_api:os-hosts:{op}", ADMIN, f"os-hosts (until 2.42): {op}.")
      for op in ("list", "show", "update", "reboot", "shutdown", "start")),
    _r("os_compute_api:os-availability-zone:list", "@", "List availability zones."),
    _r("os_compute_api:os-availability-zone:detail", ADMIN, "List availability zones with their hosts."),
    _r("os_compute_api:os-server-external-events:create", "rule:service_or_admin",
       "Send external events (network-vif-plugged, …) to servers."),
    _r("os_compute_api:os-server-groups:index", READER, "List the project's server groups."),
    _r("os_compute_api:os-server-groups:show", READER, "Show a server group."),
    _r("os_compute_api:os-server-groups:create", MEMBER, "Create a server group."),
    _r("os_compute_api:os-server-groups:delete", MEMBER, "Delete a server group."),
    _r("os_compute_api:os-quota-sets:show", READER, "Show a project's quotas."),
    _r("os_compute_api:os-quota-sets:detail", READER, "Show a project's quotas with usage."),
    _r("os_compute_api:os-quota-sets:defaults", "@", "Show the default quotas."),
    _r("os_compute_api:os-quota-sets:update", ADMIN, "Set a project's quotas."),
    _r("os_compute_api:os-quota-sets:delete", ADMIN, "Reset a project's quotas to the defaults."),
    _r("os_compute_api:limits", "@", "Show the caller's limits and usage."),
    _r("os_compute_api:os-quota-class-sets:show", ADMIN, "Show a quota class."),
    _r("os_compute_api:os-quota-class-sets:update", ADMIN, "Set a quota class's limits (class default: every "
       "project's defaults)."),
    _r("os_compute_api:os-simple-tenant-usage:list", ADMIN, "Show every project's usage over a period."),
    _r("os_compute_api:os-simple-tenant-usage:show", READER, "Show a project's usage over a period."),
    *(_r(f"os_compute_api:os-aggregates:{op}", ADMIN, f"Host aggregates: {op.replace('_', ' ')}.")
      for op in ("index", "create", "show", "update", "delete", "add_host", "remove_host", "set_metadata")),
    _r("os_compute_api:os-security-groups:get", READER, "List security groups (network service proxy)."),
    _r("os_compute_api:os-security-groups:show", READER, "Show a security group (proxy)."),
    _r("os_compute_api:os-security-groups:create", MEMBER, "Create a security group (proxy)."),
    _r("os_compute_api:os-security-groups:update", MEMBER, "Update a security group (proxy)."),
    _r("os_compute_api:os-security-groups:delete", MEMBER, "Delete a security group (proxy)."),
    _r("os_compute_api:os-security-groups:rule:create", MEMBER, "Create a security group rule (proxy)."),
    _r("os_compute_api:os-security-groups:rule:delete", MEMBER, "Delete a security group rule (proxy)."),
    _r("os_compute_api:os-security-groups:list", READER, "List a server's security groups."),
    _r("os_compute_api:os-security-groups:add", MEMBER, "Add a security group to a server's ports."),
    _r("os_compute_api:os-security-groups:remove", MEMBER, "Remove a security group from a server's ports."),
    # moves, snapshots, shelve and rescue (Nova's 2024 defaults)
    _r(f"{_S}:resize", MEMBER, "Resize a server to another flavor."),
    _r(f"{_S}:confirm_resize", MEMBER, "Confirm a resize (or cold migration)."),
    _r(f"{_S}:revert_resize", MEMBER, "Revert a resize (or cold migration)."),
    _r(f"{_S}:create_image", MEMBER, "Snapshot a server into an image."),
    _r("os_compute_api:os-create-backup", MEMBER, "Back a server up into a rotated image."),
    _r("os_compute_api:os-migrate-server:migrate", ADMIN, "Cold-migrate a server."),
    _r("os_compute_api:os-migrate-server:migrate_live", ADMIN, "Live-migrate a server."),
    _r("os_compute_api:os-evacuate", ADMIN, "Evacuate a server from a host that is down."),
    _r("os_compute_api:os-shelve:shelve", MEMBER, "Shelve a server."),
    _r("os_compute_api:os-shelve:shelve_offload", ADMIN, "Offload a shelved server."),
    _r("os_compute_api:os-shelve:unshelve", MEMBER, "Unshelve a server."),
    _r("os_compute_api:os-rescue", MEMBER, "Rescue a server."),
    _r("os_compute_api:os-unrescue", MEMBER, "Unrescue a server."),
    _r("os_compute_api:os-migrations:index", ADMIN, "List migrations."),
    _r(f"{_S}:migrations:index", ADMIN, "List a server's in-progress live migrations."),
    _r(f"{_S}:migrations:show", ADMIN, "Show a server's in-progress live migration."),
    _r(f"{_S}:migrations:force_complete", ADMIN, "Force a live migration to complete."),
    _r(f"{_S}:migrations:delete", ADMIN, "Abort a live migration."),
    _r("os_compute_api:os-volumes-attachments:index", READER, "List the volumes attached to a server."),
    _r("os_compute_api:os-volumes-attachments:show", READER, "Show a volume attached to a server."),
    _r("os_compute_api:os-volumes-attachments:create", MEMBER, "Attach a volume to a server."),
    _r("os_compute_api:os-volumes-attachments:delete", MEMBER, "Detach a volume from a server."),
    _r("os_compute_api:os-volumes:list", READER, "List volumes (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:detail", READER, "List volumes with details (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:show", READER, "Show one of the volumes (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:create", MEMBER, "Create one of the volumes (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:delete", MEMBER, "Delete one of the volumes (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:snapshots:list", READER, "List volume snapshots (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:snapshots:detail", READER, "List snapshots with details (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:snapshots:show", READER, "Show a volume snapshot (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:snapshots:create", MEMBER, "Create a volume snapshot (proxy, to 2.35)."),
    _r("os_compute_api:os-volumes:snapshots:delete", MEMBER, "Delete a volume snapshot (proxy, to 2.35)."),
]

#: The compute rules, each with the operations of the routes that check it (from the Op table).
RULES: list[RuleDefault] = with_operations(_DEFAULTS, op_table())
