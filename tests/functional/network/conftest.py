"""Fixtures of the network functional tests: one cloud for the whole package, on SQLite
(functional) and again on PostgreSQL and MariaDB with RabbitMQ (integration)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import RunningCloud
from tests.databases import DATABASES, cloud_on
from tests.functional.identity.keystone import FAST_HASH, Keystone
from tests.functional.network.neutron import Neutron

#: Two VLAN physnets with ranges, two flat physnets: every provider case has somewhere to go.
CONFIG = FAST_HASH + f"""
[network]
# Its own agent topics on the shared RabbitMQ (other suites' clouds run network services too).
rpc_namespace = "t{uuid.uuid4().hex[:8]}"
bootstrap = false
# The suites make many resources in one project; the quota tests set their projects' own limits.
quota_network = -1
quota_subnet = -1
quota_port = -1
quota_security_group = -1
quota_security_group_rule = -1
quota_router = -1
quota_floatingip = -1
network_vlan_ranges = ["public:100:199", "physnet2"]
flat_networks = ["public", "flat1", "flat2"]
vni_ranges = ["1000:1999"]
tunnel_id_ranges = ["10:20"]
"""


@pytest.fixture(scope="package", params=DATABASES)
def cloud(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningCloud]:
    with cloud_on(request.param, tmp_path_factory.mktemp(f"network-{request.param}"), CONFIG) as c:
        yield c


@pytest.fixture(scope="package")
def neutron(cloud: RunningCloud) -> Iterator[Neutron]:
    ks = Keystone(cloud)
    n = Neutron(cloud, ks)
    yield n
    n.close()
    ks.close()
