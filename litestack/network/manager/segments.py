"""Segments (``/segments``, the ``segment`` extension): the parts of a network, each with its own
type, physical network and segmentation id. Adding one to a network reserves its id with the type
drivers (race-free, as a network's own segment: ``segments.reserve``); deleting one gives it back,
unless subnets belong to it (409 ``SegmentInUse``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from litestack.common.api.pagination import Listing
from litestack.network import exceptions as exc
from litestack.network import segments
from litestack.network.manager.base import (
    Caller,
    Filter,
    Part,
    Query,
    big_integer,
    check_revision,
    integer,
    iso,
    list_rows,
    new_id,
    now,
    retrying,
    touch,
)
from litestack.network.manager.networks import Networks
from litestack.network.models import Segment, Subnet

LISTING = Listing(Segment, sort_keys={k: getattr(Segment, k) for k in (
    "id", "name", "network_id", "network_type", "physical_network", "segmentation_id", "created_at", "updated_at",
    "revision_number")}, default_sort=())

FILTERS: dict[str, Filter] = {
    "id": (Segment.id, None), "name": (Segment.name, None), "network_id": (Segment.network_id, None),
    "network_type": (Segment.network_type, None), "physical_network": (Segment.physical_network, None),
    "segmentation_id": (Segment.segmentation_id, big_integer), "description": (Segment.description, None),
    "revision_number": (Segment.revision_number, integer),
}


def view(g: Any) -> dict[str, Any]:
    return {"id": g.id, "network_id": g.network_id, "name": g.name, "description": g.description,
            "network_type": g.network_type, "physical_network": g.physical_network,
            "segmentation_id": g.segmentation_id, "revision_number": g.revision_number,
            "created_at": iso(g.created_at), "updated_at": iso(g.updated_at)}


class Segments(Part):
    """Who may see and change segments is the policy's business (the admin's, by default): a
    segment belongs to no project."""

    def __init__(self, *args: Any, networks: Networks) -> None:
        super().__init__(*args)
        self.networks = networks

    def find(self, caller: Caller, q: Query) -> list[dict[str, Any]]:
        with self.db.reader() as s:
            return [view(g) for g in list_rows(s, LISTING, FILTERS, q, None)]

    def row(self, s: Session, caller: Caller, segment_id: str) -> Segment:
        g = s.get(Segment, segment_id) if len(segment_id) <= 36 else None
        if g is None:
            raise exc.SegmentNotFound(segment_id)
        return g

    def get(self, caller: Caller, segment_id: str) -> dict[str, Any]:
        with self.db.reader() as s:
            return view(self.row(s, caller, segment_id))

    @retrying
    def create(self, caller: Caller, data: dict[str, Any]) -> dict[str, Any]:
        if data.get("network_type") is None:
            raise exc.HTTPBadRequest.missing("network_type")
        req = segments.SegmentRequest(data["network_type"], data.get("physical_network"), data.get("segmentation_id"))
        segments.validate(self.networks.types, req)
        t = now()
        with self.db.writer() as s:
            net = self.networks.row(s, caller, data["network_id"])
            # The network's row is written first: segments added to one network at once take turns
            # (their index and the network's MTU are computed from the others).
            touch(net)
            s.flush()
            got = segments.reserve(s, self.networks.types, net.id, req)
            others = list(s.execute(select(Segment.network_type, Segment.segment_index)
                                    .where(Segment.network_id == net.id)))
            natural = self.networks.natural_mtu([got.network_type, *(t_ for t_, _ in others)])
            if net.mtu > natural:  # as ML2: the network's MTU must suit every segment
                raise exc.InvalidInput(f"Requested MTU is too big, maximum is {natural}")
            g = Segment(id=new_id(), network_id=net.id, name=data.get("name"),
                        description=data.get("description") or "",
                        network_type=got.network_type, physical_network=got.physical_network,
                        segmentation_id=got.segmentation_id,
                        segment_index=max((i for _, i in others), default=-1) + 1,
                        revision_number=0, created_at=t, updated_at=t)
            s.add(g)
            s.flush()
            out = view(g)
        self.notify("segment.create.end", {"segment": out})
        return out

    @retrying
    def update(self, caller: Caller, segment_id: str, data: dict[str, Any], if_match: int | None) -> dict[str, Any]:
        with self.db.writer() as s:
            g = self.row(s, caller, segment_id)
            check_revision(g, if_match)
            if "name" in data:
                g.name = data["name"]
            if "description" in data:
                g.description = data["description"] or ""
            touch(g)
            s.flush()
            out = view(g)
        self.notify("segment.update.end", {"segment": out})
        return out

    def delete(self, caller: Caller, segment_id: str) -> None:
        with self.db.writer() as s:
            g = self.row(s, caller, segment_id)
            used = list(s.scalars(select(Subnet.id).where(Subnet.segment_id == g.id).order_by(Subnet.id)))
            if used:
                raise exc.SegmentInUse(g.id, f"The segment is still associated with subnet(s) {', '.join(used)}")
            segments.release(s, g.network_id, segments.SegmentRequest(g.network_type, g.physical_network,
                                                                      g.segmentation_id))
            net = self.networks.row(s, caller, g.network_id)
            touch(net)
            s.delete(g)
        self.notify("segment.delete.end", {"segment_id": segment_id})

    # --- what subnets need --------------------------------------------------------------------

    @staticmethod
    def check_subnet(s: Session, network_id: str, segment_id: str | None) -> None:
        """A subnet's ``segment_id`` (checked before the subnet is inserted): a segment of its network."""
        if segment_id is None:
            return
        g = s.get(Segment, segment_id) if len(segment_id) <= 36 else None
        if g is None:
            raise exc.SegmentNotFound(segment_id)
        if g.network_id != network_id:
            raise exc.NetworkIdsDontMatch(network_id, segment_id)

    @staticmethod
    def check_network_subnets(s: Session, network_id: str) -> None:
        """After a subnet is inserted: all of the network's subnets on segments, or none (Neutron's
        rule for routed networks)."""
        found = set(s.scalars(select(Subnet.segment_id).where(Subnet.network_id == network_id).distinct()))
        if None in found and len(found) > 1:
            raise exc.SubnetsNotAllAssociatedWithSegments(network_id)

    @staticmethod
    def check_subnet_move(s: Session, network_id: str, old: str | None, new: str | None) -> None:
        """``segment_id`` of an existing subnet (``subnet-segmentid-writable``), by Neutron's rules:
        only the one subnet of a network of one segment goes onto it; a subnet on a segment stays."""
        if old == new:
            return
        found = list(s.scalars(select(Subnet.segment_id).where(Subnet.network_id == network_id)))
        if len(found) > 1:
            raise exc.SubnetsNotAllAssociatedWithSegments(network_id)
        if None not in found and new not in found:
            raise exc.SubnetSegmentAssociationChangeNotAllowed()
        if (s.scalar(select(func.count()).select_from(Segment).where(Segment.network_id == network_id)) or 0) > 1:
            raise exc.NoUpdateSubnetWhenMultipleSegmentsOnNetwork(network_id)
        Segments.check_subnet(s, network_id, new)
