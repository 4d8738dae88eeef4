"""The API extensions the network service implements, as ``/v2.0/extensions`` lists them.

Clients and tempest switch features on from this list, so an alias goes here only when its
feature works end to end; the texts are neutron-lib's (``api/definitions``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Extension:
    alias: str
    name: str
    description: str
    updated: str

    def view(self) -> dict[str, Any]:
        return {"alias": self.alias, "name": self.name, "description": self.description, "updated": self.updated,
                "links": []}


EXTENSIONS = (
    Extension("provider", "Provider Network", "Expose mapping of virtual networks to physical networks",
              "2012-09-07T10:00:00-00:00"),
    Extension("external-net", "Neutron external network", "Adds external network attribute to network resource.",
              "2013-01-14T10:00:00-00:00"),
    Extension("net-mtu", "Network MTU", "Provides MTU attribute for a network resource.",
              "2015-03-25T10:00:00-00:00"),
    Extension("net-mtu-writable", "Network MTU (writable)", "Provides a writable MTU attribute for a network "
              "resource.", "2017-07-12T00:00:00-00:00"),
    Extension("port-security", "Port Security", "Provides port security", "2012-07-23T10:00:00-00:00"),
    Extension("binding", "Port Binding", "Expose port bindings of a virtual port to external application",
              "2014-02-03T10:00:00-00:00"),
    Extension("security-group", "security-group", "The security groups extension.", "2012-10-05T10:00:00-00:00"),
    Extension("stateful-security-group", "Stateful security group",
              "Indicates if the security group is stateful or not", "2019-11-26T09:00:00-00:00"),
    Extension("security-groups-normalized-cidr", "Normalized CIDR field for security group rules",
              "Add new field with normalized remote_ip_prefix cidr in SG rule", "2020-07-28T10:00:00-00:00"),
    Extension("port-security-groups-filtering", "Port filtering on security groups",
              "Provides security groups filtering when listing ports", "2018-01-09T09:00:00-00:00"),
    Extension("allowed-address-pairs", "Allowed Address Pairs", "Provides allowed address pairs",
              "2013-07-23T10:00:00-00:00"),
    Extension("extra_dhcp_opt", "Neutron Extra DHCP options", "Extra options configuration for DHCP. For example "
              "PXE boot options to DHCP clients can be specified (e.g. tftp-server, server-ip-address, bootfile-name)",
              "2013-03-17T12:00:00-00:00"),
    Extension("dns-integration", "DNS Integration", "Provides integration with DNS.", "2015-08-15T18:00:00-00:00"),
    Extension("network_availability_zone", "Network Availability Zone", "Availability zone support for network.",
              "2015-01-01T10:00:00-00:00"),
    Extension("l2_adjacency", "L2 Adjacency", "Display L2 Adjacency for Neutron Networks.",
              "2016-04-12T16:00:00-00:00"),
    Extension("standard-attr-description", "standard-attr-description",
              "Extension to add descriptions to standard attributes", "2016-02-10T10:00:00-00:00"),
    Extension("standard-attr-revisions", "Resource revision numbers",
              "This extension will display the revision number of neutron resources.", "2016-04-11T10:00:00-00:00"),
    Extension("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at fields to all "
              "Neutron resources that have Neutron standard attributes.", "2016-09-12T10:00:00-00:00"),
    Extension("standard-attr-tag", "Tag support for resources with standard attribute: subnet, port, network, "
              "security_group", "Enables to set tag on resources with standard attribute.",
              "2017-01-01T00:00:00-00:00"),
    Extension("tag-creation", "Tag creation extension", "Allow to create multiple tags for a resource",
              "2024-23-07T10:00:00-00:00"),
    Extension("subnet_allocation", "Subnet Allocation", "Enables allocation of subnets from a subnet pool",
              "2015-03-30T10:00:00-00:00"),
    Extension("default-subnetpools", "Default Subnetpools", "Provides ability to mark and use a subnetpool as the "
              "default.", "2016-02-18T18:00:00-00:00"),
    Extension("revision-if-match", "If-Match constraints based on revision_number",
              "Extension indicating that If-Match based on revision_number is supported.",
              "2016-12-11T00:00:00-00:00"),
    Extension("sorting", "Sorting support", "Extension that indicates that sorting is enabled.",
              "2016-06-12T00:00:00-00:00"),
    Extension("pagination", "Pagination support", "Extension that indicates that pagination is enabled.",
              "2016-06-12T00:00:00-00:00"),
    Extension("project-id", "project_id field enabled", "Extension that indicates that project_id field is "
              "enabled.", "2016-09-09T09:09:09-09:09"),
    Extension("router", "Neutron L3 Router", "Router abstraction for basic L3 forwarding between L2 Neutron "
              "networks and access to external networks via a NAT gateway.", "2012-07-20T10:00:00-00:00"),
    Extension("ext-gw-mode", "Neutron L3 Configurable external gateway mode", "Extension of the router abstraction "
              "for specifying whether SNAT should occur on the external gateway", "2013-03-28T10:00:00-00:00"),
    Extension("extraroute", "Neutron Extra Route", "Extra routes configuration for L3 router",
              "2013-02-01T10:00:00-00:00"),
    Extension("extraroute-atomic", "Atomically add/remove extra routes", "Edit extra routes of a router on server "
              "side by atomically adding/removing extra routes", "2019-07-10T00:00:00-00:00"),
    Extension("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute to Floating IP "
              "resource", "2018-04-09T10:00:00-00:00"),
    Extension("floating-ip-port-forwarding", "Floating IP Port Forwarding", "Provides port forwarding to floating "
              "IP.", "2018-06-06T10:00:00-00:00"),
    Extension("quotas", "Quota management support", "Expose functions for quotas management per project",
              "2012-07-29T10:00:00-00:00"),
    Extension("quota_details", "Quota details management support", "Expose functions for quotas usage statistics "
              "per project", "2017-02-10T10:00:00-00:00"),
    Extension("rbac-policies", "RBAC Policies", "Allows creation and modification of policies that control "
              "tenant access to resources.", "2015-06-17T12:15:12-00:00"),
    Extension("auto-allocated-topology", "Auto Allocated Topology Services", "Auto Allocated Topology Services.",
              "2016-01-01T00:00:00-00:00"),
    Extension("subnet-external-network", "Subnet External Network", "Informs if the subnet is associated to an "
              "external network.", "2021-06-07T10:00:00-00:00"),
    Extension("qos", "Quality of Service", "The Quality of Service extension.", "2015-06-08T10:00:00-00:00"),
    Extension("qos-bw-limit-direction", "Direction for QoS bandwidth limit rule", "Allow to configure QoS "
              "bandwidth limit rule with specific direction: ingress or egress", "2017-08-14T10:00:00-00:00"),
    Extension("qos-default", "QoS default policy", "Expose the QoS default policy per project",
              "2017-041-06T10:00:00-00:00"),
    Extension("address-scope", "Address scope", "Address scopes extension.", "2015-07-26T10:00:00-00:00"),
    Extension("address-group", "Address group", "Support address group", "2020-07-15T10:00:00-00:00"),
    Extension("security-groups-remote-address-group", "Remote address group id field for security group rules",
              "Add new field of remote address group id in security group rules", "2020-07-28T10:00:00-00:00"),
    Extension("agent", "agent", "The agent management extension.", "2013-02-03T10:00:00-00:00"),
    Extension("availability_zone", "Availability Zone", "The availability zone extension.",
              "2015-01-01T10:00:00-00:00"),
    Extension("network-ip-availability", "Network IP Availability", "Provides IP availability data for each "
              "network and subnet.", "2015-09-24T00:00:00-00:00"),
    Extension("multi-provider", "Multi Provider Network", "Expose mapping of virtual networks to multiple physical "
              "networks", "2013-06-27T10:00:00-00:00"),
    Extension("segment", "Segment", "Segments extension.", "2016-02-24T17:00:00-00:00"),
    Extension("subnet-segmentid-writable", "Subnet SegmentID (writable)", "Provides a writable segment_id "
              "attribute for a subnet resource.", "2018-03-12T00:00:00-00:00"),
    Extension("standard-attr-segment", "Standard Attribute Segment Extension", "Add standard attributes to Segment "
              "resource", "2018-04-09T10:00:00-00:00"),
    Extension("quota-check-limit", "Quota engine limit check", "Support for checking the resource usage before "
              "applying a new quota limit", "2023-03-23T00:00:00-00:00"),
)
