"""Default policy of the block storage service, as Cinder's 2024 defaults (``cinder/policies``).

Rule names are Cinder's own, so an operator's Cinder ``policy.yaml`` applies unchanged. Targets
carry ``project_id``: the resource's project (another project's resource is 404 before the rule,
as Cinder's database layer hides it), or the caller's for creates and lists. The routes that
check each rule come from the Op table.
"""

from __future__ import annotations

from litestack.common.api.policy import with_operations
from litestack.common.policy import RuleDefault
from litestack.volume.api import op_table

PROJECT = ["project"]

ADMIN = "rule:admin_api"
READER = f"{ADMIN} or (role:reader and project_id:%(project_id)s)"
MEMBER = f"{ADMIN} or (role:member and project_id:%(project_id)s)"


def _r(name: str, check: str, desc: str) -> RuleDefault:
    return RuleDefault(name, check, desc, scope_types=PROJECT)


_RULES: list[tuple[str, str, str]] = [
    # volumes
    ("volume:create", MEMBER, "Create a volume."),
    ("volume:create_from_image", MEMBER, "Create a volume from an image."),
    ("volume:get", READER, "Show a volume."),
    ("volume:get_all", READER, "List volumes."),
    ("volume:get_volume_summary", READER, "Show the volume summary."),
    ("volume:update", MEMBER, "Update a volume (and set it bootable)."),
    ("volume:delete", MEMBER, "Delete a volume."),
    ("volume:force_delete", ADMIN, "Delete a volume whatever its status (?force=true)."),
    ("volume:multiattach", MEMBER, "Create a multiattach volume."),
    ("volume:get_volume_metadata", READER, "Show a volume's metadata."),
    ("volume:create_volume_metadata", MEMBER, "Add metadata to a volume."),
    ("volume:update_volume_metadata", MEMBER, "Replace a volume's metadata or one item."),
    ("volume:delete_volume_metadata", MEMBER, "Delete a volume metadata item."),
    ("volume_extension:volume_host_attribute", ADMIN, "See os-vol-host-attr:host."),
    ("volume_extension:volume_tenant_attribute", READER, "See os-vol-tenant-attr:tenant_id."),
    # volume actions
    ("volume:extend", MEMBER, "Extend a volume."),
    ("volume:extend_attached_volume", MEMBER, "Extend an in-use volume."),
    ("volume:revert_to_snapshot", MEMBER, "Revert a volume to its latest snapshot."),
    ("volume:update_readonly_flag", MEMBER, "Set a volume read-only or read-write."),
    ("volume:retype", MEMBER, "Change a volume's type."),
    ("volume_extension:volume_actions:upload_image", MEMBER, "Upload a volume to an image."),
    ("volume_extension:volume_actions:upload_public", ADMIN, "Upload a volume to a public image."),
    ("volume_extension:volume_admin_actions:reset_status", ADMIN, "Reset a volume's status."),
    ("volume_extension:volume_admin_actions:force_delete", ADMIN, "Force-delete a volume."),
    ("volume_extension:volume_admin_actions:force_detach", ADMIN, "Force-detach a volume."),
    ("volume_extension:volume_image_metadata:show", READER, "Show a volume's image metadata."),
    ("volume_extension:volume_image_metadata:set", MEMBER, "Set a volume's image metadata."),
    ("volume_extension:volume_image_metadata:remove", MEMBER, "Remove a volume's image metadata item."),
    ("volume:reserve_volume", MEMBER, "Reserve a volume for attaching (legacy flow)."),
    ("volume:unreserve_volume", MEMBER, "Unreserve a volume (legacy flow)."),
    ("volume:begin_detaching", MEMBER, "Begin detaching a volume (legacy flow)."),
    ("volume:roll_detaching", MEMBER, "Roll back detaching (legacy flow)."),
    ("volume:attach", MEMBER, "Mark a volume attached (legacy flow)."),
    ("volume:detach", MEMBER, "Mark a volume detached (legacy flow)."),
    ("volume:initialize_connection", MEMBER, "Get a volume's connection info (legacy flow)."),
    ("volume:terminate_connection", MEMBER, "End a volume's connection (legacy flow)."),
    # snapshots
    ("volume:create_snapshot", MEMBER, "Create a snapshot."),
    ("volume:get_snapshot", READER, "Show a snapshot."),
    ("volume:get_all_snapshots", READER, "List snapshots."),
    ("volume:update_snapshot", MEMBER, "Update a snapshot."),
    ("volume:delete_snapshot", MEMBER, "Delete a snapshot."),
    ("volume:get_snapshot_metadata", READER, "Show a snapshot's metadata."),
    ("volume:update_snapshot_metadata", MEMBER, "Set a snapshot's metadata."),
    ("volume:delete_snapshot_metadata", MEMBER, "Delete a snapshot metadata item."),
    ("volume_extension:snapshot_admin_actions:reset_status", ADMIN, "Reset a snapshot's status."),
    ("volume_extension:snapshot_admin_actions:force_delete", ADMIN, "Force-delete a snapshot."),
    ("snapshot_extension:snapshot_actions:update_snapshot_status", MEMBER,
     "Update a snapshot's status (what a hypervisor reports of an assisted snapshot)."),
    # types
    ("volume_extension:type_get_all", READER, "List volume types."),
    ("volume_extension:type_get", READER, "Show a volume type."),
    ("volume_extension:type_create", ADMIN, "Create a volume type."),
    ("volume_extension:type_update", ADMIN, "Update a volume type."),
    ("volume_extension:type_delete", ADMIN, "Delete a volume type."),
    ("volume_extension:access_types_extra_specs", ADMIN, "See extra_specs in volume type views."),
    ("volume_extension:access_types_qos_specs_id", ADMIN, "See qos_specs_id in volume type views."),
    ("volume_extension:qos_specs_manage:get_all", ADMIN, "List QoS specs."),
    ("volume_extension:qos_specs_manage:get", ADMIN, "Show a QoS spec or its associations."),
    ("volume_extension:qos_specs_manage:create", ADMIN, "Create a QoS spec."),
    ("volume_extension:qos_specs_manage:update", ADMIN, "Set or unset a QoS spec's keys, (dis)associate it."),
    ("volume_extension:qos_specs_manage:delete", ADMIN, "Delete a QoS spec."),
    ("volume_extension:types_extra_specs:index", READER, "List a type's extra specs."),
    ("volume_extension:types_extra_specs:show", READER, "Show an extra spec."),
    ("volume_extension:types_extra_specs:create", ADMIN, "Set extra specs."),
    ("volume_extension:types_extra_specs:update", ADMIN, "Update an extra spec."),
    ("volume_extension:types_extra_specs:delete", ADMIN, "Delete an extra spec."),
    ("volume_extension:volume_type_access", READER, "Volume type access."),
    ("volume_extension:volume_type_access:addProjectAccess", ADMIN, "Give a project a private type."),
    ("volume_extension:volume_type_access:removeProjectAccess", ADMIN, "Take a private type from a project."),
    ("volume_extension:volume_type_access:get_all_for_type", ADMIN, "List a private type's projects."),
    # attachments
    ("volume:attachment_create", MEMBER, "Create an attachment."),
    ("volume:attachment_update", MEMBER, "Update an attachment with a connector."),
    ("volume:attachment_delete", MEMBER, "Delete an attachment."),
    ("volume:attachment_complete", MEMBER, "Mark an attachment complete."),
    ("volume:attachment_get", READER, "Show an attachment."),
    ("volume:attachment_get_all", READER, "List attachments."),
    # transfers (accept: any member with the key; the transfer's project is not the taker's)
    ("volume:create_transfer", MEMBER, "Offer a volume to another project."),
    ("volume:get_transfer", READER, "Show a transfer."),
    ("volume:get_all_transfers", READER, "List transfers."),
    ("volume:delete_transfer", MEMBER, "Cancel a transfer."),
    ("volume:accept_transfer", MEMBER, "Accept a transfer with its auth key."),
    # backups
    ("backup:create", MEMBER, "Create a backup."),
    ("backup:get", READER, "Show a backup."),
    ("backup:get_all", READER, "List backups."),
    ("backup:delete", MEMBER, "Delete a backup."),
    ("backup:update", MEMBER, "Rename a backup or change its description."),
    ("backup:restore", MEMBER, "Restore a backup."),
    ("backup:force_delete", ADMIN, "Delete a backup whatever its status."),
    ("backup:backup-export", ADMIN, "Export a backup record."),
    ("backup:backup_project_attribute", ADMIN, "See a backup's project (3.18)."),
    ("backup:backup-import", ADMIN, "Import a backup record."),
    ("volume_extension:backup_admin_actions:reset_status", ADMIN, "Reset a backup's status."),
    # existing storage
    ("volume_extension:list_manageable", ADMIN, "List a backend's manageable volumes."),
    ("volume_extension:volume_manage", ADMIN, "Manage an existing volume."),
    ("volume_extension:volume_unmanage", ADMIN, "Unmanage a volume (its data stays on the backend)."),
    ("snapshot_extension:list_manageable", ADMIN, "List a backend's manageable snapshots."),
    ("snapshot_extension:snapshot_manage", ADMIN, "Manage an existing snapshot."),
    ("snapshot_extension:snapshot_unmanage", ADMIN, "Unmanage a snapshot (its data stays on the backend)."),
    # user messages (3.3)
    ("message:get_all", READER, "List messages."),
    ("message:get", READER, "Show a message."),
    ("message:delete", MEMBER, "Delete a message."),
    # quotas, limits and the rest
    ("volume_extension:quotas:show", READER, "Show a project's quotas."),
    ("volume_extension:quotas:update", ADMIN, "Update a project's quotas."),
    ("volume_extension:quotas:delete", ADMIN, "Reset a project's quotas."),
    ("volume_extension:quota_classes", ADMIN, "Show and update quota classes."),
    ("limits_extension:used_limits", READER, "Show limits and usage."),
    ("volume_extension:availability_zone_list", READER, "List availability zones."),
    ("volume_extension:services:index", ADMIN, "List services (and get their log levels, 3.32)."),
    ("volume_extension:services:update", ADMIN, "Enable or disable a service; set log levels (3.32)."),
    ("volume:freeze_host", ADMIN, "Freeze a backend."),
    ("volume:thaw_host", ADMIN, "Thaw a backend."),
    ("volume:failover_host", ADMIN, "Fail a backend over to its replica."),
    ("clusters:get_all", ADMIN, "List clusters."),
    ("clusters:get", ADMIN, "Show a cluster."),
    ("clusters:update", ADMIN, "Enable or disable a cluster."),
    ("workers:cleanup", ADMIN, "Clean what dead services left in transitional states."),
    ("scheduler_extension:scheduler_stats:get_pools", ADMIN, "List backend pools."),
    ("volume_extension:capabilities", ADMIN, "Show a backend's capabilities."),
    ("volume_extension:extensions:index", READER, "List extensions."),
    # group types (3.11); Cinder checks no rule on their list and show: these two are litestack's
    ("group:group_types:get_all", READER, "List group types (litestack's rule; Cinder checks none)."),
    ("group:group_types:get", READER, "Show a group type or the default one (litestack's rule; Cinder checks none)."),
    ("group:group_types:create", ADMIN, "Create a group type."),
    ("group:group_types:update", ADMIN, "Update a group type."),
    ("group:group_types:delete", ADMIN, "Delete a group type."),
    ("group:access_group_types_specs", ADMIN, "See group_specs in group type views."),
    ("group:group_types_specs:get", ADMIN, "Show a group spec."),
    ("group:group_types_specs:get_all", ADMIN, "List a group type's specs."),
    ("group:group_types_specs:create", ADMIN, "Set group specs."),
    ("group:group_types_specs:update", ADMIN, "Update a group spec."),
    ("group:group_types_specs:delete", ADMIN, "Delete a group spec."),
    # generic volume groups (3.13) and group snapshots (3.14)
    ("group:create", MEMBER, "Create a group (also from a group snapshot or a source group)."),
    ("group:get", READER, "Show a group."),
    ("group:get_all", READER, "List groups."),
    ("group:update", MEMBER, "Update a group: name, description, volumes added or removed."),
    ("group:delete", MEMBER, "Delete a group (with its volumes: delete-volumes)."),
    ("group:reset_status", ADMIN, "Reset a group's status."),
    ("group:enable_replication", MEMBER, "Enable a group's replication."),
    ("group:disable_replication", MEMBER, "Disable a group's replication."),
    ("group:failover_replication", MEMBER, "Fail a group's replication over."),
    ("group:list_replication_targets", MEMBER, "List a group's replication targets."),
    ("group:group_project_attribute", ADMIN, "See project_id in group views (3.58)."),
    ("group:create_group_snapshot", MEMBER, "Create a group snapshot."),
    ("group:get_group_snapshot", READER, "Show a group snapshot."),
    ("group:get_all_group_snapshots", READER, "List group snapshots."),
    ("group:delete_group_snapshot", MEMBER, "Delete a group snapshot."),
    ("group:reset_group_snapshot_status", ADMIN, "Reset a group snapshot's status."),
    ("group:group_snapshot_project_attribute", ADMIN, "See project_id in group snapshot views (3.58)."),
]

_DEFAULTS: list[RuleDefault] = [
    RuleDefault("default", "", "The rule of policies an operator's file names without a check."),
    RuleDefault("admin_api", "role:admin", "The cloud administrator (Cinder's admin_api)."),
    RuleDefault("context_is_admin", "role:admin", "The cloud administrator."),
    *(_r(name, check, desc) for name, check, desc in _RULES),
]

#: The block storage rules, each with the operations of the routes that check it (from the Op table).
RULES: list[RuleDefault] = with_operations(_DEFAULTS, op_table())
