"""Instance action events: what a compute agent did for an action (``compute_stop_instance``,
``compute_build_and_run_instance``, …), with its start, finish and result, recorded around the
agent's RPC methods that change a server. ``os-instance-actions/{request_id}`` shows them.

The agent is served on the bus through :func:`recording`, which records an event around each of
the methods in ``RECORDED`` (the action is the one of the request id the API passed on, else the
server's latest action: the build's ``create``, the delete's ``delete``)."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from litestack.common.db import run_blocking
from litestack.compute import states

LOG = logging.getLogger(__name__)

#: The agent methods recorded as events of the server's action.
RECORDED = frozenset({
    "build_and_run_instance", "terminate_instance", "stop_instance", "start_instance", "pause_instance",
    "unpause_instance", "suspend_instance", "resume_instance", "reboot_instance", "rebuild_instance",
    "soft_delete_instance", "restore_instance", "set_admin_password", "trigger_crash_dump", "attach_interface",
    "detach_interface", "inject_network_info",
})


class _Recorder:
    def __init__(self, agent: Any) -> None:
        self._agent = agent

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._agent, name)
        if name not in RECORDED:
            return target
        return self._recorded(name, target)

    def _recorded(self, name: str, target: Callable[..., Any]) -> Callable[..., Any]:
        agent = self._agent

        async def call(**kwargs: Any) -> Any:
            instance_id = kwargs.get("instance_id")
            event_id = None
            if instance_id:
                try:
                    event_id = await run_blocking(agent.instances.start_event, instance_id,
                                                  kwargs.get("request_id"), f"compute_{name}", agent.host)
                except Exception as exc:  # the event is a record: it never stops the work
                    LOG.warning("recording event %s of %s failed: %s", name, instance_id, exc)
            try:
                result = await target(**kwargs)
            except Exception:
                if event_id is not None:
                    await run_blocking(agent.instances.finish_event, event_id, "Error", traceback.format_exc())
                raise
            if event_id is not None:
                outcome = "Success"
                try:
                    inst = await run_blocking(agent.instances.get, instance_id, None, True)
                    if inst.vm_state == states.ERROR:
                        outcome = "Error"
                except Exception:  # deleted meanwhile: what it did succeeded
                    outcome = "Success"
                await run_blocking(agent.instances.finish_event, event_id, outcome, None)
            return result
        return call


def recording(agent: Any) -> Any:
    """The agent as served on the bus: the same RPC methods, with events recorded."""
    cls = type("RecordingComputeAgent", (_Recorder,),
               {"rpc_methods": type(agent).rpc_methods, "rpc_version": type(agent).rpc_version})
    return cls(agent)
