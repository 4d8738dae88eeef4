"""The network service's errors, named and worded as Neutron's (neutron-lib ``exceptions``).

Each class name is the ``type`` of the ``NeutronError`` body the API answers with
(``common/api/errors.py`` ``network_error``); the message is Neutron's text.
"""

from __future__ import annotations

from litestack.common import errors


class InvalidInput(errors.BadRequest):
    """Raised when a request's values are individually valid but wrong together (provider segments,
    subnets, security group rules): ``Invalid input for operation: <reason>.``"""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid input for operation: {reason}.")


class HTTPBadRequest(errors.BadRequest):
    """Raised when one attribute fails validation: ``Invalid input for <attr>. Reason: <why>.``"""

    @classmethod
    def attr(cls, name: str, reason: str) -> HTTPBadRequest:
        return cls(f"Invalid input for {name}. Reason: {reason}.")

    @classmethod
    def missing(cls, name: str) -> HTTPBadRequest:
        return cls(f"Failed to parse request. Required attribute '{name}' not specified")


class InvalidCIDR(errors.BadRequest):
    """Raised when a subnet's cidr is no network address."""

    def __init__(self, cidr: str) -> None:
        super().__init__(f"Invalid CIDR {cidr} given as IP prefix.")


class NetworkNotFound(errors.NotFound):
    """Raised when a network does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Network {ident} could not be found.")


class SubnetNotFound(errors.NotFound):
    """Raised when a subnet does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Subnet {ident} could not be found.")


class PortNotFound(errors.NotFound):
    """Raised when a port does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Port {ident} could not be found.")


class SecurityGroupNotFound(errors.NotFound):
    """Raised when a security group does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Security group {ident} does not exist")


class SecurityGroupRuleNotFound(errors.NotFound):
    """Raised when a security group rule does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Security group rule {ident} does not exist")


class TagNotFound(errors.NotFound):
    """Raised when a resource does not carry the tag asked for."""

    def __init__(self, resource: str, ident: str, tag: str) -> None:
        super().__init__(f"Tag {tag} could not be found for {resource} {ident}.")


class RevisionNumberConstraintFailed(errors.LitestackError):
    """Raised when ``If-Match: revision_number=N`` names a revision other than the stored one."""

    status = 412
    title = "Precondition Failed"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(f"Constrained to {expected}, but current revision is {current}")


class InUse(errors.Conflict):
    """Base of the 409s for resources still referenced."""


class NetworkInUse(InUse):
    """Raised when a network with ports other than its DHCP ports is deleted."""

    def __init__(self, net_id: str) -> None:
        super().__init__(f"Unable to complete operation on network {net_id}. There are one or more ports "
                         "still in use on the network.")


class SubnetInUse(InUse):
    """Raised when a subnet with IP allocations is deleted."""

    def __init__(self, subnet_id: str) -> None:
        super().__init__(f"Unable to complete operation on subnet {subnet_id}: One or more ports have an "
                         "IP allocation from this subnet.")


class FlatNetworkInUse(InUse):
    """Raised when a second flat network is created on a physical network."""

    def __init__(self, physnet: str) -> None:
        super().__init__(f"Unable to create the flat network. Physical network {physnet} is in use.")


class VlanIdInUse(InUse):
    """Raised when a provider VLAN is taken."""

    def __init__(self, vlan_id: int, physnet: str) -> None:
        super().__init__(f"Unable to create the network. The VLAN {vlan_id} on physical network "
                         f"{physnet} is in use.")


class TunnelIdInUse(InUse):
    """Raised when a provider VXLAN VNI or GRE tunnel id is taken."""

    def __init__(self, tunnel_id: int) -> None:
        super().__init__(f"Unable to create the network. The tunnel ID {tunnel_id} is in use.")


class NoNetworkAvailable(errors.ServiceUnavailable):
    """Raised when every segmentation id of the project network types is allocated."""

    def __init__(self) -> None:
        super().__init__("Unable to create the network. No project network is available for allocation.")


class IpAddressGenerationFailure(errors.Conflict):
    """Raised when a subnet has no free address left for a port."""

    def __init__(self, net_id: str) -> None:
        super().__init__(f"No more IP addresses available on network {net_id}.")


class IpAddressInUse(InUse):
    """Raised when a requested fixed IP is allocated already."""

    def __init__(self, net_id: str, ip: str) -> None:
        super().__init__(f"Unable to complete operation for network {net_id}. The IP address {ip} is in use.")


class MacAddressInUse(InUse):
    """Raised when a requested MAC address is used on the network already."""

    def __init__(self, net_id: str, mac: str) -> None:
        super().__init__(f"Unable to complete operation for network {net_id}. The mac address {mac} is in use.")


class InvalidIpForSubnet(errors.BadRequest):
    """Raised when a fixed IP is outside the subnet it names."""

    def __init__(self, ip: str) -> None:
        super().__init__(f"IP address {ip} is not a valid IP for the specified subnet.")


class InvalidIpForNetwork(errors.BadRequest):
    """Raised when a fixed IP is in none of the network's subnets."""

    def __init__(self, ip: str) -> None:
        super().__init__(f"IP address {ip} is not a valid IP for any of the subnets on the specified network.")


class InvalidAllocationPool(errors.BadRequest):
    """Raised when an allocation pool's start is after its end or its versions differ."""

    def __init__(self, pool: str) -> None:
        super().__init__(f"The allocation pool {pool} is not valid.")


class OutOfBoundsAllocationPool(errors.BadRequest):
    """Raised when an allocation pool leaves the subnet's CIDR."""

    def __init__(self, pool: str, cidr: str) -> None:
        super().__init__(f"The allocation pool {pool} spans beyond the subnet cidr {cidr}.")


class OverlappingAllocationPools(errors.Conflict):
    """Raised when two allocation pools of a subnet overlap."""

    def __init__(self, pool_1: str, pool_2: str, cidr: str) -> None:
        super().__init__(f"Found overlapping allocation pools: {pool_1} {pool_2} for subnet {cidr}.")


class GatewayConflictWithAllocationPools(InUse):
    """Raised when the gateway lies inside an allocation pool."""

    def __init__(self, ip: str, pool: str) -> None:
        super().__init__(f"Gateway ip {ip} conflicts with allocation pool {pool}.")


class DNSNameServersExhausted(errors.BadRequest):
    """Raised when a subnet gets more DNS servers than ``max_dns_nameservers``."""

    def __init__(self, subnet_id: str, quota: int) -> None:
        super().__init__(f"Unable to complete operation for {subnet_id}. The number of DNS nameservers "
                         f"exceeds the limit {quota}.")


class HostRoutesExhausted(errors.BadRequest):
    """Raised when a subnet gets more host routes than ``max_subnet_host_routes``."""

    def __init__(self, subnet_id: str, quota: int) -> None:
        super().__init__(f"Unable to complete operation for {subnet_id}. The number of host routes "
                         f"exceeds the limit {quota}.")


class PortSecurityAndIPRequiredForSecurityGroups(errors.BadRequest):
    """Raised when a port without port security is given security groups."""

    def __init__(self) -> None:
        super().__init__("Port security must be enabled and port must have an IP address in order to use "
                         "security groups.")


class PortSecurityPortHasSecurityGroup(InUse):
    """Raised when port security is turned off on a port that still has security groups."""

    def __init__(self) -> None:
        super().__init__("Port has security group associated. Cannot disable port security or IP address "
                         "until security group is removed.")


class AddressPairAndPortSecurityRequired(errors.Conflict):
    """Raised when a port without port security is given allowed address pairs."""

    def __init__(self) -> None:
        super().__init__("Port Security must be enabled in order to have allowed address pairs on a port.")


class DuplicateAddressPairInRequest(errors.BadRequest):
    """Raised when a request lists one allowed address pair twice."""

    def __init__(self, mac: str, ip: str) -> None:
        super().__init__(f"Request contains duplicate address pair: mac_address {mac} ip_address {ip}.")


class SecurityGroupInUse(InUse):
    """Raised when a security group still bound to ports is deleted."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Security Group {ident} in use.")


class SecurityGroupCannotRemoveDefault(InUse):
    """Raised when a project's default security group is deleted by a non-admin."""

    def __init__(self) -> None:
        super().__init__("Insufficient rights for removing default security group.")


class SecurityGroupCannotUpdateDefault(InUse):
    """Raised when the default security group is renamed."""

    def __init__(self) -> None:
        super().__init__("Updating default security group not allowed.")


class SecurityGroupRuleExists(InUse):
    """Raised when a rule equal to an existing one of the group is created."""

    def __init__(self, rule_id: str) -> None:
        super().__init__(f"Security group rule already exists. Rule id is {rule_id}.")


class SecurityGroupRuleInvalidProtocol(errors.BadRequest):
    """Raised for a protocol that is neither a known name nor 0-255."""

    def __init__(self, protocol: str, values: list[str]) -> None:
        super().__init__(f"Security group rule protocol {protocol} not supported. Only protocol values "
                         f"{values} and integer representations [0 to 255] are supported.")


class SecurityGroupInvalidPortRange(errors.BadRequest):
    """Raised when port_range_min is above port_range_max."""

    def __init__(self) -> None:
        super().__init__("For TCP/UDP protocols, port_range_min must be <= port_range_max")


class SecurityGroupInvalidPortValue(errors.BadRequest):
    """Raised for a port outside 1-65535."""

    def __init__(self, port: object) -> None:
        super().__init__(f"Invalid value for port {port}")


class SecurityGroupInvalidIcmpValue(errors.BadRequest):
    """Raised for an ICMP type or code outside 0-255."""

    def __init__(self, field: str, attr: str, value: object) -> None:
        super().__init__(f"Invalid value for ICMP {field} ({attr}) {value}. It must be 0 to 255.")


class SecurityGroupMissingIcmpType(errors.BadRequest):
    """Raised when an ICMP code is given without an ICMP type."""

    def __init__(self, value: object) -> None:
        super().__init__(f"ICMP code (port-range-max) {value} is provided but ICMP type (port-range-min) "
                         "is missing.")


class SecurityGroupInvalidProtocolForPort(errors.BadRequest):
    """Raised when ports are given for a protocol without ports."""

    def __init__(self, protocol: str, valid: str) -> None:
        super().__init__(f"Ports cannot be specified for protocol {protocol}. Ports are only supported for "
                         f"{valid}.")


class SecurityGroupProtocolRequiredWithPorts(errors.BadRequest):
    """Raised when a port range is given without a protocol."""

    def __init__(self) -> None:
        super().__init__("Must also specify protocol if port range is given.")


class SecurityGroupRuleParameterConflict(errors.BadRequest):
    """Raised when remote_ip_prefix is of the other IP version than the ethertype."""

    def __init__(self, ethertype: str, cidr: str) -> None:
        super().__init__(f"Conflicting value ethertype {ethertype} for CIDR {cidr}")


class SecurityGroupMultipleRemoteEntites(errors.BadRequest):
    """Raised when a rule names a remote prefix and a remote group."""

    def __init__(self) -> None:
        super().__init__("Only one of remote_ip_prefix or remote_group_id or remote_address_group_id may be "
                         "provided.")


class SecurityGroupEthertypeConflictWithProtocol(errors.BadRequest):
    """Raised for an IPv6-only protocol on an IPv4 rule."""

    def __init__(self, ethertype: str, protocol: str) -> None:
        super().__init__(f"Invalid ethertype {ethertype} for protocol {protocol}.")


class SecurityGroupDefaultAlreadyExists(InUse):
    """Raised when a group named ``default`` is created: each project has exactly one."""

    def __init__(self) -> None:
        super().__init__("Default security group already exists.")


class SecurityGroupRuleInvalidEtherType(errors.BadRequest):
    """Raised for an ethertype other than IPv4 or IPv6."""

    def __init__(self, ethertype: str, values: list[str]) -> None:
        super().__init__(f"Security group rule for ethertype '{ethertype}' not supported. Allowed values are "
                         f"{values}.")


class MacAddressGenerationFailure(errors.ServiceUnavailable):
    """Raised when no free MAC address was found on the network after several tries."""

    def __init__(self, net_id: str) -> None:
        super().__init__(f"Unable to generate unique mac on network {net_id}.")


class AllowedAddressPairsMissingIP(errors.BadRequest):
    """Raised when an allowed address pair has no ip_address."""

    def __init__(self) -> None:
        super().__init__("AllowedAddressPair must contain ip_address")


class AllowedAddressPairExhausted(errors.BadRequest):
    """Raised when a port gets more allowed address pairs than ``max_allowed_address_pair``."""

    def __init__(self, quota: int) -> None:
        super().__init__(f"The number of allowed address pair exceeds the maximum {quota}.")


class PortBound(InUse):
    """Raised when the MAC of a bound port is changed."""

    def __init__(self, port_id: str, vif_type: str, old_mac: str, new_mac: str) -> None:
        super().__init__(f"Unable to complete operation on port {port_id}, port is already bound, port type: "
                         f"{vif_type}, old_mac {old_mac}, new_mac {new_mac}.")


class ExtensionNotFound(errors.NotFound):
    """Raised when ``/v2.0/extensions/{alias}`` names no implemented extension."""

    def __init__(self, alias: str) -> None:
        super().__init__(f"Extension with alias {alias} does not exist")


class BadRequest(errors.BadRequest):
    """Neutron's generic 400: ``Bad <resource> request: <why>.``"""

    def __init__(self, resource: str, msg: str) -> None:
        super().__init__(f"Bad {resource} request: {msg}.")


class SubnetPoolNotFound(errors.NotFound):
    """Raised when a subnet pool does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Subnet pool {ident} could not be found.")


class SubnetAllocationError(errors.Conflict):
    """Raised when a pool has no room for the subnet asked for (Neutron answers this with a 500;
    it is the pool's state, not a server fault, so here it is a 409)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Failed to allocate subnet: {reason}.")


class PrefixVersionMismatch(errors.BadRequest):
    """Raised when a pool mixes IPv4 and IPv6 prefixes."""

    def __init__(self) -> None:
        super().__init__("Cannot mix IPv4 and IPv6 prefixes in a subnet pool.")


class IllegalSubnetPoolPrefixBounds(errors.BadRequest):
    """Raised when min, default and max prefix lengths do not nest."""

    def __init__(self, prefix_type: str, prefixlen: int, base_type: str, base_prefixlen: int) -> None:
        super().__init__(f"Illegal prefix bounds: {prefix_type}={prefixlen}, {base_type}={base_prefixlen}.")


class IllegalSubnetPoolPrefixUpdate(errors.BadRequest):
    """Raised when an update would drop address space from a pool."""

    def __init__(self, msg: str) -> None:
        super().__init__(f"Illegal update to prefixes: {msg}.")


class MinPrefixSubnetAllocationError(errors.BadRequest):
    """Raised when a subnet asks for a prefix shorter than the pool's minimum."""

    def __init__(self, prefixlen: int, min_prefixlen: int) -> None:
        super().__init__(f"Unable to allocate subnet with prefix length {prefixlen}, minimum allowed prefix is "
                         f"{min_prefixlen}.")


class MaxPrefixSubnetAllocationError(errors.BadRequest):
    """Raised when a subnet asks for a prefix longer than the pool's maximum."""

    def __init__(self, prefixlen: int, max_prefixlen: int) -> None:
        super().__init__(f"Unable to allocate subnet with prefix length {prefixlen}, maximum allowed prefix is "
                         f"{max_prefixlen}.")


class SubnetPoolInUse(InUse):
    """Raised when a pool with subnets is deleted."""

    def __init__(self, pool_id: str) -> None:
        super().__init__(f"Unable to complete operation on subnet pool {pool_id}. Subnet pool has existing "
                         "allocations.")


class RouterNotFound(errors.NotFound):
    """Raised when a router does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Router {ident} could not be found")


class RouterInUse(InUse):
    """Raised when a router that still has interfaces is deleted."""

    def __init__(self, router_id: str, reason: str = "still has ports") -> None:
        super().__init__(f"Router {router_id} {reason}")


class RouterInterfaceNotFound(errors.NotFound):
    """Raised when a port named in remove_router_interface is no interface of the router."""

    def __init__(self, router_id: str, port_id: str) -> None:
        super().__init__(f"Router {router_id} does not have an interface with id {port_id}")


class RouterInterfaceNotFoundForSubnet(errors.NotFound):
    """Raised when a subnet named in remove_router_interface has no interface on the router."""

    def __init__(self, router_id: str, subnet_id: str) -> None:
        super().__init__(f"Router {router_id} has no interface on subnet {subnet_id}")


class RouterInterfaceInUseByFloatingIP(InUse):
    """Raised when an interface whose subnet floating IPs reach through the router is removed."""

    def __init__(self, router_id: str, subnet_id: str) -> None:
        super().__init__(f"Router interface for subnet {subnet_id} on router {router_id} cannot be deleted, "
                         "as it is required by one or more floating IPs.")


class RouterInterfaceInUseByRoute(InUse):
    """Raised when an interface a static route goes through is removed."""

    def __init__(self, router_id: str, subnet_id: str) -> None:
        super().__init__(f"Router interface for subnet {subnet_id} on router {router_id} cannot be deleted, "
                         "as it is required by one or more routes.")


class RouterExternalGatewayInUseByFloatingIp(InUse):
    """Raised when a router's gateway is removed while floating IPs go through it."""

    def __init__(self, router_id: str, net_id: str) -> None:
        super().__init__(f"Gateway cannot be updated for router {router_id}, since a gateway to external "
                         f"network {net_id} is required by one or more floating IPs.")


class PortInUse(InUse):
    """Raised when a port that already has a device is attached to a router."""

    def __init__(self, net_id: str, port_id: str, device_id: str) -> None:
        super().__init__(f"Unable to complete operation on port {port_id} for network {net_id}. Port already "
                         f"has an attached device {device_id}.")


class ServicePortInUse(InUse):
    """Raised when a router's or floating IP's port is deleted through the port API."""

    def __init__(self, port_id: str, reason: str) -> None:
        super().__init__(f"Port {port_id} cannot be deleted directly via the port API: {reason}.")


class InvalidRoutes(errors.BadRequest):
    """Raised when a router's static routes are malformed or their nexthop is not reachable."""

    def __init__(self, routes: object, reason: str) -> None:
        super().__init__(f"Invalid format for routes: {routes}, {reason}")


class RoutesExhausted(errors.BadRequest):
    """Raised when a router gets more static routes than allowed."""

    def __init__(self, router_id: str, quota: int) -> None:
        super().__init__(f"Unable to complete operation for {router_id}. The number of routes exceeds the "
                         f"maximum {quota}.")


class FloatingIPNotFound(errors.NotFound):
    """Raised when a floating IP does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Floating IP {ident} could not be found")


class ExternalGatewayForFloatingIPNotFound(errors.NotFound):
    """Raised when the fixed IP's subnet is on no router with a gateway on the floating IP's network."""

    def __init__(self, external_network_id: str, subnet_id: str, port_id: str) -> None:
        super().__init__(f"External network {external_network_id} is not reachable from subnet {subnet_id}. "
                         f"Therefore, cannot associate Port {port_id} with a Floating IP.")


class FloatingIPPortAlreadyAssociated(InUse):
    """Raised when a fixed IP already has a floating IP of the same external network."""

    def __init__(self, fip: str, fip_id: str, port_id: str, fixed_ip: str, net_id: str) -> None:
        super().__init__(f"Cannot associate floating IP {fip} ({fip_id}) with port {port_id} using fixed IP "
                         f"{fixed_ip}, as that fixed IP already has a floating IP on external network {net_id}.")


class PortForwardingNotFound(errors.NotFound):
    """Raised when a floating IP has no port forwarding of that id."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Port Forwarding {ident} could not be found.")


class FipInUseByPortForwarding(InUse):
    """Raised when a floating IP with port forwardings is associated with a port."""

    def __init__(self, fip_id: str) -> None:
        super().__init__(f"Floating IP {fip_id} has port forwardings; it cannot be associated with a port.")


class QuotaResourceUnknown(errors.NotFound):
    """Raised when a quota update names a resource without a quota."""

    def __init__(self, unknown: str) -> None:
        super().__init__(f"Unknown quota resources ['{unknown}'].")


class OverQuota(errors.Conflict):
    """Raised when a create would take a project over its quota of the resource."""

    def __init__(self, overs: str) -> None:
        super().__init__(f"Quota exceeded for resources: ['{overs}'].")



class SubnetMismatchForPort(errors.BadRequest):
    """Raised when remove_router_interface names a port and a subnet the port has no address on."""

    def __init__(self, port_id: str, subnet_id: str) -> None:
        super().__init__(f"Subnet on port {port_id} does not match the requested subnet {subnet_id}.")


class DuplicatePortForwarding(InUse):
    """Raised when a floating IP already forwards that external port and protocol (or the internal
    address, port and protocol are forwarded already)."""

    def __init__(self, values: str) -> None:
        super().__init__(f"A duplicate port forwarding entry with same attributes already exists, conflicting "
                         f"values are {values}")


class InvalidQuotaValue(errors.Conflict):
    """Raised (with ``check_limit``) when a quota is set below what the project already uses."""

    def __init__(self, limit: int, resource: str, used: int) -> None:
        super().__init__(f"Quota limit {limit} for {resource} must be greater than or equal to already used and "
                         f"reserved {used}.")


class AgentNotFound(errors.NotFound):
    """Raised when an agent id names no agent."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Agent {ident} could not be found.")


class RbacPolicyNotFound(errors.NotFound):
    """Raised when an RBAC policy does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"RBAC policy of type network with ID {ident} not found")


class DuplicateRbacPolicy(InUse):
    """Raised when the same object, action and target project are given twice."""

    def __init__(self) -> None:
        super().__init__("An RBAC policy already exists with those values.")


class RbacPolicyInUse(InUse):
    """Raised when an RBAC policy that other projects' ports depend on is removed or narrowed."""

    def __init__(self, object_id: str, details: str) -> None:
        super().__init__(f"RBAC policy on object {object_id} cannot be removed because other objects depend on "
                         f"it.\nDetails: {details}")


class DefaultExternalNetworkExists(InUse):
    """Raised when a second external network is marked ``is_default``."""

    def __init__(self, net_id: str) -> None:
        super().__init__(f"Default external network {net_id} already exists")


class AutoAllocationFailure(errors.Conflict):
    """Raised when the deployment lacks what an auto-allocated topology needs."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"Deployment error: {reason}.")


class AutoAllocatedTopologyNotFound(errors.NotFound):
    """Raised when a project without an auto-allocated topology asks to delete it."""

    def __init__(self, project_id: str) -> None:
        super().__init__(f"Auto-allocated topology for project {project_id} could not be found")


class QosPolicyNotFound(errors.NotFound):
    """Raised when a QoS policy does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"QoS policy {ident} could not be found.")


class QosRuleNotFound(errors.NotFound):
    """Raised when a QoS policy has no rule of that id and type."""

    def __init__(self, policy_id: str, rule_id: str) -> None:
        super().__init__(f"QoS rule {rule_id} for policy {policy_id} could not be found.")


class QosPolicyInUse(InUse):
    """Raised when a QoS policy bound to a port or network is deleted."""

    def __init__(self, policy_id: str, object_type: str, object_id: str) -> None:
        super().__init__(f"QoS Policy {policy_id} is used by {object_type} {object_id}.")


class QoSRulesConflict(InUse):
    """Raised when a policy already has a rule of that type (and direction)."""

    def __init__(self, policy_id: str, rule_type: str, direction: str | None) -> None:
        extra = f" and direction {direction}" if direction else ""
        super().__init__(f"Rule {rule_type}{extra} already exists in QoS policy {policy_id}.")


class QosRuleTypeNotFound(errors.NotFound):
    """Raised when a QoS rule type is not supported."""

    def __init__(self, rule_type: str) -> None:
        super().__init__(f"QoS rule type {rule_type} could not be found.")


class AddressScopeNotFound(errors.NotFound):
    """Raised when an address scope does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Address scope {ident} could not be found")


class AddressScopeInUse(InUse):
    """Raised when an address scope with subnet pools is deleted."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Unable to complete operation on address scope {ident}. There are one or more subnet "
                         "pools in use on the address scope")


class IllegalSubnetPoolAssociationToAddressScope(errors.BadRequest):
    """Raised when a subnet pool cannot join an address scope."""

    def __init__(self, pool_id: str, scope_id: str, reason: str) -> None:
        super().__init__(f"Illegal subnetpool association: subnetpool {pool_id} cannot be associated with address "
                         f"scope {scope_id}: {reason}.")


class AddressGroupNotFound(errors.NotFound):
    """Raised when an address group does not exist or is not visible to the caller."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Address group {ident} could not be found.")


class AddressGroupInUse(InUse):
    """Raised when an address group a security group rule names is deleted."""

    def __init__(self, ident: str, group_id: str) -> None:
        super().__init__(f"Address group {ident} is in use by security group {group_id}.")


class AddressesAlreadyExist(errors.BadRequest):
    """Raised when addresses already in an address group are added again."""

    def __init__(self, addresses: list[str], ident: str) -> None:
        super().__init__(f"Addresses {addresses} already exist in address group {ident}.")


class AddressesNotFound(errors.NotFound):
    """Raised when addresses not in an address group are removed."""

    def __init__(self, addresses: list[str], ident: str) -> None:
        super().__init__(f"Addresses {addresses} not found in the address group {ident}.")


# --- segments (the ``segment`` and ``multi-provider`` extensions) -----------------------------------


class SegmentsSetInConjunctionWithProviders(errors.BadRequest):
    """Raised when a network is created with both ``segments`` and ``provider:*`` attributes."""

    def __init__(self) -> None:
        super().__init__("Segments and provider values cannot both be set.")


class SegmentsContainDuplicateEntry(errors.BadRequest):
    """Raised when a network's ``segments`` name one complete segment twice."""

    def __init__(self) -> None:
        super().__init__("Duplicate segment entry in request.")


class SegmentNotFound(errors.NotFound):
    """Raised when a segment does not exist or the caller may not see it (only the admin does)."""

    def __init__(self, ident: str) -> None:
        super().__init__(f"Segment {ident} could not be found.")


class SegmentInUse(InUse):
    """Raised when a segment that subnets belong to is deleted."""

    def __init__(self, segment_id: str, reason: str) -> None:
        super().__init__(f"Segment '{segment_id}' cannot be deleted: {reason}.")


class SubnetsNotAllAssociatedWithSegments(errors.BadRequest):
    """Raised when a network would have subnets with and subnets without a segment."""

    def __init__(self, network_id: str) -> None:
        super().__init__(f"All of the subnets on network '{network_id}' must either all be associated with "
                         "segments or all not associated with any segment.")


class NetworkIdsDontMatch(errors.BadRequest):
    """Raised when a subnet names a segment of another network."""

    def __init__(self, network_id: str, segment_id: str) -> None:
        super().__init__(f"The subnet's network id, '{network_id}', doesn't match the network_id of segment "
                         f"'{segment_id}'")


class SubnetSegmentAssociationChangeNotAllowed(errors.BadRequest):
    """Raised when a subnet already on a segment is moved to another (or off segments)."""

    def __init__(self) -> None:
        super().__init__("A subnet that is already associated with a segment cannot have its segment association "
                         "changed.")


class NoUpdateSubnetWhenMultipleSegmentsOnNetwork(errors.BadRequest):
    """Raised when an existing subnet is put on a segment of a network of several segments."""

    def __init__(self, network_id: str) -> None:
        super().__init__(f"The network '{network_id}' has multiple segments, it is only possible to associate an "
                         "existing subnet with a segment on networks with a single segment.")
