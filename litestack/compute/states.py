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

_STATUS = {ACTIVE: "ACTIVE", BUILDING: "BUILD", PAUSED: "PAUSED", SUSPENDED: "SUSPENDED",
           STOPPED: "SHUTOFF", ERROR: "ERROR", DELETED: "DELETED"}
_TASK_STATUS = {ACTIVE: {REBOOTING: "REBOOT", REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD",
                         REBUILD_SPAWNING: "REBUILD"},
                STOPPED: {REBOOTING_HARD: "HARD_REBOOT", REBUILDING: "REBUILD", REBUILD_SPAWNING: "REBUILD"},
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
    if s in ("REBOOT", "HARD_REBOOT"):
        found = [ACTIVE, STOPPED] if s == "HARD_REBOOT" else [ACTIVE]
    return found
