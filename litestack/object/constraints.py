"""Swift's constraints (the limits ``GET /info`` advertises) and their checks, with Swift's texts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from litestack.object import errors


@dataclass(frozen=True)
class Limits:
    max_file_size: int = 5368709122
    max_meta_name_length: int = 128
    max_meta_value_length: int = 256
    max_meta_count: int = 90
    max_meta_overall_size: int = 4096
    max_header_size: int = 8192
    max_object_name_length: int = 1024
    container_listing_limit: int = 10000
    account_listing_limit: int = 10000
    max_account_name_length: int = 256
    max_container_name_length: int = 256
    extra_header_count: int = 0

    def as_info(self) -> dict[str, int]:
        return asdict(self)


def check_names(limits: Limits, account: str, container: str | None = None, obj: str | None = None) -> None:
    if len(account.encode()) > limits.max_account_name_length:
        raise errors.SwiftBadRequest(
            f"Account name length of {len(account.encode())} longer than {limits.max_account_name_length}")
    if container is not None and len(container.encode()) > limits.max_container_name_length:
        raise errors.SwiftBadRequest(
            f"Container name length of {len(container.encode())} longer than {limits.max_container_name_length}")
    if obj is not None and len(obj.encode()) > limits.max_object_name_length:
        raise errors.SwiftBadRequest(
            f"Object name length of {len(obj.encode())} longer than {limits.max_object_name_length}")


def check_metadata(limits: Limits, headers: Mapping[str, str], kind: str) -> None:
    """Check the ``X-<kind>-Meta-*`` headers of a PUT or POST (Swift's ``check_metadata``)."""
    prefix = f"x-{kind}-meta-"
    count = size = 0
    for name, value in headers.items():
        lname = name.lower()
        if not lname.startswith(prefix):
            continue
        key = lname[len(prefix):]
        if not key:
            raise errors.SwiftBadRequest("Metadata name cannot be empty")
        count += 1
        size += len(key) + len(value)
        if len(key) > limits.max_meta_name_length:
            raise errors.SwiftBadRequest(f"Metadata name too long: {prefix}{key}")
        if len(value) > limits.max_meta_value_length:
            raise errors.SwiftBadRequest(f"Metadata value longer than {limits.max_meta_value_length}: {prefix}{key}")
        if count > limits.max_meta_count:
            raise errors.SwiftBadRequest(f"Too many metadata items; max {limits.max_meta_count}")
        if size > limits.max_meta_overall_size:
            raise errors.SwiftBadRequest(f"Total metadata too large; max {limits.max_meta_overall_size}")
