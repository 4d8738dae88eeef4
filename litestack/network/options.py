"""Options of the network service (Neutron's ML2 and core options that the API shows)."""

from litestack.common.config import Option, register_section

NETWORK = register_section("network", "Network service (Neutron v2.0).", [
    Option("base_mac", str, "fa:16:3e:00:00:00",
           "MAC addresses of ports start with this base; the bytes that are 00 are chosen at random."),
    Option("tenant_network_types", list, ["vxlan"],
           "Network types for project networks, in order of preference (vxlan, gre, vlan, local)."),
    Option("vni_ranges", list, ["1:1000"], "VXLAN VNI ranges (MIN:MAX) available for project networks."),
    Option("tunnel_id_ranges", list, ["1:1000"], "GRE tunnel id ranges (MIN:MAX) available for project networks."),
    Option("network_vlan_ranges", list, ["public"],
           "Physical networks that carry VLANs, PHYSNET or PHYSNET:MIN:MAX; only the ranges are\n"
           "available for project networks."),
    Option("flat_networks", list, ["public"],
           "Physical networks flat networks may use; \"*\" allows any; empty disables flat networks."),
    Option("global_physnet_mtu", int, 1500, "MTU of the underlying physical network.", minimum=68),
    Option("path_mtu", int, 0, "Largest MTU of the overlay underlay path (0: global_physnet_mtu).", minimum=0),
    Option("overlay_ip_version", int, 4, "IP version of the tunnel endpoints (4 or 6).", choices=(4, 6)),
    Option("dns_domain", str, "openstacklocal", "The DNS domain of port names (dns_assignment)."),
    Option("default_availability_zones", list, [], "Availability zones of networks without hints."),
    Option("max_dns_nameservers", int, 5, "DNS name servers a subnet may have.", minimum=0),
    Option("max_subnet_host_routes", int, 20, "Host routes a subnet may have.", minimum=0),
    Option("max_allowed_address_pair", int, 10, "Allowed address pairs a port may have.", minimum=0),
    Option("max_routes", int, 30, "Static routes a router may have.", minimum=0),
    Option("agent_down_time", int, 75, "Seconds after an agent's last report that it counts as down.", minimum=1),
    Option("fake_agent", bool, True,
           "Run the fake L2/DHCP/L3 agent inside the all-in-one cloud (litestack up): it reports the ports\n"
           "bound to its host up, so they become ACTIVE, until the real data plane lands."),
    Option("fake_agent_host", str, "", "The host the in-process fake agent serves (empty: this machine's name)."),
    Option("report_interval", int, 30, "Seconds between an agent's state reports.", minimum=1),
    Option("rpc_namespace", str, "",
           "Suffix of the agents' RPC topics (q-plugin-NS, q-agent-notifier-NS): clouds sharing one message\n"
           "broker need different ones; agents take the same."),
    Option("bootstrap", bool, True,
           "Create DevStack's networks on start: the external flat network public (physnet public,\n"
           "172.24.4.0/24) and, for project demo, network private (10.0.0.0/26) and router1 between them."),
    *[Option(f"quota_{name}", int, default, f"Default quota of {name.replace('_', ' ')}s per project (-1: none).",
             minimum=-1)
      for name, default in (("network", 100), ("subnet", 100), ("port", 500), ("router", 10), ("floatingip", 50),
                            ("security_group", 10), ("security_group_rule", 100), ("subnetpool", -1))],
])
