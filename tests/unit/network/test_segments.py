"""The type drivers' configuration, MTUs and validation (the API tests cover the messages)."""

from __future__ import annotations

from typing import Any

import pytest

from litestack.common.errors import ConfigError
from litestack.network import exceptions as exc
from litestack.network import segments

pytestmark = pytest.mark.unit


class Conf:
    def __init__(self, **over: Any) -> None:
        self.values = {"tenant_network_types": ["vxlan"], "vni_ranges": ["1:1000"], "tunnel_id_ranges": ["1:1000"],
                       "network_vlan_ranges": ["public"], "flat_networks": ["public"], "global_physnet_mtu": 1500,
                       "path_mtu": 0, "overlay_ip_version": 4, **over}

    def get(self, section: str, name: str) -> Any:
        return self.values[name]


def test_mtu_takes_each_encapsulations_overhead_off_the_underlay() -> None:
    cfg = segments.TypeConfig.from_conf(Conf())
    assert {t: cfg.mtu(t) for t in segments.TYPES} == {"local": 1500, "flat": 1500, "vlan": 1500, "vxlan": 1450,
                                                       "gre": 1458}
    v6 = segments.TypeConfig.from_conf(Conf(overlay_ip_version=6, path_mtu=9000, global_physnet_mtu=9000))
    assert (v6.mtu("vxlan"), v6.mtu("gre")) == (8930, 8938)


@pytest.mark.parametrize("over", [{"vni_ranges": ["5:1"]}, {"vni_ranges": ["x"]}, {"tunnel_id_ranges": ["0:9"]},
                                  {"network_vlan_ranges": ["p:1:5000"]}, {"network_vlan_ranges": [":1:5"]},
                                  {"tenant_network_types": ["flat"]}])
def test_bad_ranges_are_configuration_errors(over: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        segments.TypeConfig.from_conf(Conf(**over))


def test_star_allows_any_flat_physnet_and_empty_disables_flat() -> None:
    anyflat = segments.TypeConfig.from_conf(Conf(flat_networks=["*"]))
    segments.validate(anyflat, segments.SegmentRequest("flat", "whatever"))
    none = segments.TypeConfig.from_conf(Conf(flat_networks=[]))
    with pytest.raises(exc.InvalidInput, match="Flat provider networks are disabled"):
        segments.validate(none, segments.SegmentRequest("flat", "public"))


def test_partial_segments_and_duplicates() -> None:
    R = segments.SegmentRequest
    assert [segments.is_partial(r) for r in (R("vlan", "public"), R("vlan", None, 5), R("vxlan"), R("gre", None, 9),
                                              R("flat", "public"), R("local"), R("vlan", "public", 5))] == [
        True, True, True, False, False, False, False]
    assert R("vlan", "").physical_network is None  # an empty physnet is none, as Neutron reads it
    segments.check_duplicates([R("vxlan"), R("vxlan"), R("vlan", "public", 5), R("vlan", "public", 6)])
    with pytest.raises(exc.SegmentsContainDuplicateEntry):
        segments.check_duplicates([R("vlan", "public", 5), R("vxlan", None, 7), R("vlan", "public", 5)])
