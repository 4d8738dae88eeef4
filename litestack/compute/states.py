"""Nova's instance states: vm_state, task_state, and the API status derived from both."""

from __future__ import annotations

# vm_state
ACTIVE = "active"
BUILDING = "building"
PAUSED = "paused"
SUSPENDED = "suspended"
STOPPED = "stopped"
ERROR = "error"
DELETED = "deleted"
SOFT_DELETED = "soft-delete"  # deleted, reclaimed after [compute] reclaim_instance_interval unless restored
RESIZED = "resized"
RESCUED = "rescued"
SHELVED = "shelved"
SHELVED_OFFLOADED = "shelved_offloaded"

# task_state
SCHEDULING = "scheduling"
NETWORKING = "networking"
BLOCK_DEVICE_MAPPING = "block_device_mapping"
SPAWNING = "spawning"
DELETING = "deleting"
POWERING_OFF = "powering-off"
POWERING_ON = "powering-on"
REBOOTING = "rebooting"
REBOOTING_HARD = "rebooting_hard"
PAUSING = "pausing"
UNPAUSING = "unpausing"
SUSPENDING = "suspending"
RESUMING = "resuming"
REBUILDING = "rebuilding"
REBUILD_SPAWNING = "rebuild_spawning"
SOFT_DELETING = "soft-deleting"
RESTORING = "restoring"
UPDATING_PASSWORD = "updating_password"  # noqa: S105 - a task state's name
# the move operations (Nova's task states of resize, migrate, live migration, evacuate, shelve,
# rescue and snapshots)
RESIZE_PREP = "resize_prep"
RESIZE_MIGRATING = "resize_migrating"
RESIZE_MIGRATED = "resize_migrated"
RESIZE_FINISH = "resize_finish"
RESIZE_REVERTING = "resize_reverting"
RESIZE_CONFIRMING = "resize_confirming"
MIGRATING = "migrating"
SHELVING = "shelving"
SHELVING_IMAGE_PENDING_UPLOAD = "shelving_image_pending_upload"
SHELVING_IMAGE_UPLOADING = "shelving_image_uploading"
SHELVING_OFFLOADING = "shelving_offloading"
UNSHELVING = "unshelving"
RESCUING = "rescuing"
UNRESCUING = "unrescuing"
IMAGE_SNAPSHOT = "image_snapshot"
IMAGE_PENDING_UPLOAD = "image_pending_upload"
IMAGE_UPLOADING = "image_uploading"
IMAGE_BACKUP = "image_backup"

#: The task states of a resize or cold migration in flight (status RESIZE).
RESIZING = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH)

_STATUS = {ACTIVE: "ACTIVE", BUILDING: "BUILD", PAUSED: "PAUSED", SUSPENDED: "SUSPENDED",
           STOPPED: "SHUTOFF", ERROR: "ERROR", DELETED: "DELETED", RESIZED: "VERIFY_RESIZE", RESCUED: "RESCUE",
           SHELVED: "SHELVED", SHELVED_OFFLOADED: "SHELVED_OFFLOADED",
           SOFT_DELETED: "SOFT_DELETED"}
_RESIZE = {t: "RESIZE" for t in RESIZING}
_TASK_STATUS = {ACTIVE: {REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD",
                         REBUILD_SPAWNING: "REBUILD", MIGRATING: "MIGRATING", **_RESIZE},
                STOPPED: {REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD", REBUILD_SPAWNING: "REBUILD",
                          **_RESIZE},
                PAUSED: {MIGRATING: "MIGRATING"},
                RESIZED: {RESIZE_REVERTING: "REVERT_RESIZE"},
                ERROR: {REBUILDING: "REBUILD", REBUILD_SPAWNING: "REBUILD"}}


def status(vm_state: str, task_state: str | None) -> str:
    """The API ``status`` of a server, as Nova's ``common.status_from_state``."""
    by_task = _TASK_STATUS.get(vm_state, {})
    if task_state in by_task:
        return by_task[task_state]
    return _STATUS.get(vm_state, "UNKNOWN")


def vm_states_of(status_name: str) -> list[str]:
    """The vm_states a ``status`` filter names (``SHUTOFF`` → stopped)."""
    s = status_name.upper()
    found = [vm for vm, st in _STATUS.items() if st == s]
    if s in ("RESIZE", "MIGRATING"):
        found = [ACTIVE, STOPPED] if s == "RESIZE" else [ACTIVE, PAUSED]
    if s in ("REBOOT", "HARD_REBOOT"):
        found = [ACTIVE, STOPPED] if s == "HARD_REBOOT" else [ACTIVE]
    return found
