"""The JSON schemas Glance publishes under ``/v2/schemas`` and validates requests with.

``image`` is permissive (any extra property, as a string); its ``disk_format`` and
``container_format`` enums follow the configured lists. Clients read these documents
(python-openstackclient and openstacksdk build their image models from ``/v2/schemas/image``).
"""

from __future__ import annotations

import copy
from typing import Any

UUID_PATTERN = ("^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$")
STATUSES = ["queued", "saving", "active", "killed", "deleted", "uploading", "importing", "pending_delete",
            "deactivated"]
VISIBILITIES = ["community", "public", "private", "shared"]
MEMBER_STATUSES = ["pending", "accepted", "rejected"]


def _s(kind: Any, description: str, **more: Any) -> dict[str, Any]:
    return {"type": kind, "description": description, **more}


def base_properties(disk_formats: list[str], container_formats: list[str]) -> dict[str, Any]:
    nullable_str = ["null", "string"]
    ro = {"readOnly": True}
    return {
        "id": _s("string", "An identifier for the image", pattern=UUID_PATTERN),
        "name": _s(nullable_str, "Descriptive name for the image", maxLength=255),
        "status": _s("string", "Status of the image", enum=STATUSES, **ro),
        "visibility": _s("string", "Scope of image accessibility", enum=VISIBILITIES),
        "protected": _s("boolean", "If true, image will not be deletable."),
        "os_hidden": _s("boolean", "If true, image will not appear in default image list response."),
        "checksum": _s(nullable_str, "md5 hash of image contents.", maxLength=32, **ro),
        "os_hash_algo": _s(nullable_str, "Algorithm to calculate the os_hash_value", maxLength=64, **ro),
        "os_hash_value": _s(nullable_str, "Hexdigest of the image contents using the algorithm specified "
                            "by the os_hash_algo", maxLength=128, **ro),
        "owner": _s(nullable_str, "Owner of the image", maxLength=255),
        "size": _s(["null", "integer"], "Size of image file in bytes", **ro),
        "virtual_size": _s(["null", "integer"], "Virtual size of image in bytes", **ro),
        "container_format": _s(nullable_str, "Format of the container", enum=[None, *container_formats]),
        "disk_format": _s(nullable_str, "Format of the disk", enum=[None, *disk_formats]),
        "created_at": _s("string", "Date and time of image registration", **ro),
        "updated_at": _s("string", "Date and time of the last image modification", **ro),
        "tags": _s("array", "List of strings related to the image", items={"type": "string", "maxLength": 255}),
        "direct_url": _s("string", "URL to access the image file kept in external store", **ro),
        "min_ram": _s("integer", "Amount of ram (in MB) required to boot image."),
        "min_disk": _s("integer", "Amount of disk space (in GB) required to boot image."),
        "self": _s("string", "An image self url", **ro),
        "file": _s("string", "An image file url", **ro),
        "stores": _s("string", "Store in which image data resides.  Only present when the operator has "
                     "enabled multiple stores.  May be a comma-separated list of store identifiers.", **ro),
        "schema": _s("string", "An image schema url", **ro),
        "locations": _s("array", "A set of URLs to access the image file kept in external store",
                        items={"type": "object", "required": ["url", "metadata"],
                               "properties": {"url": {"type": "string", "maxLength": 255},
                                              "metadata": {"type": "object"}}}),
    }


#: Glance's default ``schema-image.json``: well-known extra properties, documented in the schema.
CUSTOM_PROPERTIES: dict[str, Any] = {
    "kernel_id": _s(["null", "string"], "ID of image stored in Glance that should be used as the kernel when "
                    "booting an AMI-style image.", pattern=UUID_PATTERN, is_base=False),
    "ramdisk_id": _s(["null", "string"], "ID of image stored in Glance that should be used as the ramdisk "
                     "when booting an AMI-style image.", pattern=UUID_PATTERN, is_base=False),
    "instance_uuid": _s("string", "Metadata which can be used to record which instance this image is "
                        "associated with. (Informational only, does not create an instance snapshot.)",
                        is_base=False),
    "architecture": _s("string", "Operating system architecture as specified in "
                       "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html",
                       is_base=False),
    "os_distro": _s("string", "Common name of operating system distribution as specified in "
                    "https://docs.openstack.org/python-glanceclient/latest/cli/property-keys.html",
                    is_base=False),
    "os_version": _s("string", "Operating system version as specified by the distributor.", is_base=False),
    "description": _s("string", "A human-readable string describing this image.", is_base=False),
    "cinder_encryption_key_id": _s("string", "Identifier in the OpenStack Key Management Service for the "
                                   "encryption key for the Block Storage Service to use when mounting a "
                                   "volume created from this image", is_base=False),
    "cinder_encryption_key_deletion_policy": _s(
        "string", "States the condition under which the Image Service will delete the object associated "
        "with the 'cinder_encryption_key_id' image property.  If this property is missing, the Image Service "
        "will take no action", enum=["on_image_deletion", "do_not_delete"], is_base=False),
}

_IMAGE_LINKS = [{"rel": "self", "href": "{self}"}, {"rel": "enclosure", "href": "{file}"},
                {"rel": "describedby", "href": "{schema}"}]
_COLLECTION_LINKS = [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
                     {"rel": "describedby", "href": "{schema}"}]


def image(disk_formats: list[str], container_formats: list[str]) -> dict[str, Any]:
    props = base_properties(disk_formats, container_formats)
    props.update(copy.deepcopy(CUSTOM_PROPERTIES))
    return {"name": "image", "properties": props, "additionalProperties": {"type": "string"},
            "links": _IMAGE_LINKS}


def collection(name: str, item: dict[str, Any]) -> dict[str, Any]:
    return {"name": name,
            "properties": {name: {"type": "array", "items": item}, "first": {"type": "string"},
                           "next": {"type": "string"}, "schema": {"type": "string"}},
            "links": _COLLECTION_LINKS}


MEMBER = {"name": "member", "additionalProperties": False, "properties": {
    "member_id": _s("string", "An identifier for the image member (tenantId)"),
    "image_id": _s("string", "An identifier for the image", pattern=UUID_PATTERN),
    "created_at": _s("string", "Date and time of image member creation"),
    "updated_at": _s("string", "Date and time of last modification of image member"),
    "status": _s("string", "The status of this image member", enum=MEMBER_STATUSES),
    "schema": {"readOnly": True, "type": "string"},
}}

_TASK_PROPERTIES: dict[str, Any] = {
    "id": _s("string", "An identifier for the task", pattern=UUID_PATTERN),
    "type": _s("string", "The type of task represented by this content",
               enum=["import", "api_image_import", "location_import"]),
    "status": _s("string", "The current status of this task", enum=["pending", "processing", "success", "failure"]),
    "input": _s(["null", "object"], "The parameters required by task, JSON blob"),
    "result": _s(["null", "object"], "The result of current task, JSON blob"),
    "owner": _s("string", "An identifier for the owner of this task"),
    "message": _s("string", "Human-readable informative message only included when appropriate (usually on "
                  "failure)"),
    "image_id": _s("string", "Image associated with the task"),
    "request_id": _s("string", "Human-readable informative request-id"),
    "user_id": _s("string", "User associated with the task"),
    "expires_at": _s(["null", "string"], "Datetime when this resource would be subject to removal"),
    "created_at": _s("string", "Datetime when this resource was created"),
    "updated_at": _s("string", "Datetime when this resource was updated"),
    "self": {"readOnly": True, "type": "string"},
    "schema": {"readOnly": True, "type": "string"},
}

TASK = {"name": "task", "properties": _TASK_PROPERTIES, "additionalProperties": False}
_PARTIAL_TASK = {"name": "task", "additionalProperties": False,
                 "properties": {k: v for k, v in _TASK_PROPERTIES.items() if k not in ("input", "result", "message")}}


def all_schemas(disk_formats: list[str], container_formats: list[str]) -> dict[str, dict[str, Any]]:
    """Every published schema by its name under ``/v2/schemas/``."""
    img = image(disk_formats, container_formats)
    return {"image": img, "images": collection("images", img), "member": MEMBER,
            "members": collection("members", MEMBER), "task": TASK, "tasks": collection("tasks", _PARTIAL_TASK)}
