from __future__ import annotations

import pytest

from litestack.common import errors
from litestack.common.api.microversion import Range, Version

pytestmark = pytest.mark.unit

COMPUTE = Range("compute", Version(2, 1), Version(2, 90), legacy_header="x-openstack-nova-api-version")


@pytest.mark.parametrize("headers, want", [
    ({}, "2.1"),
    ({"openstack-api-version": "compute latest"}, "2.90"),
    ({"openstack-api-version": "compute 2.53"}, "2.53"),
    ({"openstack-api-version": "volume 3.5, compute 2.10"}, "2.10"),
    ({"x-openstack-nova-api-version": "2.20"}, "2.20"),
    ({"openstack-api-version": "image 2.5"}, "2.1"),  # another service's version is ignored
])
def test_negotiation(headers: dict[str, str], want: str) -> None:
    assert str(COMPUTE.negotiate(headers)) == want


@pytest.mark.parametrize("value", ["compute 2.91", "compute 1.0", "compute 3.0"])
def test_out_of_range_is_406(value: str) -> None:
    with pytest.raises(errors.NotAcceptable):
        COMPUTE.negotiate({"openstack-api-version": value})


@pytest.mark.parametrize("value", ["compute two", "compute 2.01", "compute 2"])
def test_junk_is_400(value: str) -> None:
    with pytest.raises(errors.BadRequest):
        COMPUTE.negotiate({"openstack-api-version": value})


def test_response_headers_echo_and_vary() -> None:
    h = COMPUTE.response_headers(Version(2, 53))
    assert h["OpenStack-API-Version"] == "compute 2.53"
    assert h["X-OpenStack-Nova-API-Version"] == "2.53"
    assert "OpenStack-API-Version" in h["Vary"]


def test_versions_order_numerically() -> None:
    assert Version.parse("2.10") > Version.parse("2.9")
