"""The network service control plane (Neutron v2.0 API)."""
