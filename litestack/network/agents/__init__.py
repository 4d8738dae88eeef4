"""The network service's side of its per-host agents (the RPC endpoint they call, the events sent
to compute when ports go up or down) and the fake L2/DHCP/L3 agent."""

#: Where agents call the server (Neutron's plugin topic).
PLUGIN_TOPIC = "q-plugin"
#: What the server fans out to every agent (port updates and deletions, security group changes).
AGENT_TOPIC = "q-agent-notifier"


def topics(namespace: str = "") -> tuple[str, str]:
    """The plugin and agent topics of a deployment: ``[network] rpc_namespace`` suffixes them, so
    clouds sharing one broker (and vhost) do not answer each other's agents."""
    suffix = f"-{namespace}" if namespace else ""
    return PLUGIN_TOPIC + suffix, AGENT_TOPIC + suffix
