"""Request and response schemas of the block storage API (what it really accepts and returns)."""

from __future__ import annotations

from typing import Any

from litestack.common.api.schema import single

NAME: dict[str, Any] = {"type": ["string", "null"], "maxLength": 255}
DESC: dict[str, Any] = {"type": ["string", "null"], "maxLength": 255}
UUID: dict[str, Any] = {"type": ["string", "null"], "maxLength": 36}
METADATA: dict[str, Any] = {"type": "object", "maxProperties": 128,
                            "propertyNames": {"minLength": 1, "maxLength": 255},
                            "additionalProperties": {"type": "string", "maxLength": 255}}
NULL_METADATA: dict[str, Any] = {**METADATA, "type": ["object", "null"]}
SIZE: dict[str, Any] = {"oneOf": [{"type": "integer", "minimum": 1, "maximum": 2 ** 31 - 1},
                                  {"type": "string", "pattern": "^ *[0-9]{1,10} *$"}]}
NULLABLE_SIZE: dict[str, Any] = {"oneOf": [*SIZE["oneOf"], {"type": "null"}]}
BOOLISH: dict[str, Any] = {"type": ["boolean", "string"], "maxLength": 5}

VOLUME_CREATE: dict[str, Any] = {
    "type": "object", "required": ["volume"],
    "properties": {
        "volume": {"type": "object", "additionalProperties": True, "properties": {
            "size": NULLABLE_SIZE, "name": NAME, "description": DESC, "display_name": NAME,
            "display_description": DESC, "volume_type": NAME, "availability_zone": NAME, "metadata": NULL_METADATA,
            "snapshot_id": UUID, "source_volid": UUID, "imageRef": UUID, "image_id": UUID,
            "multiattach": {"type": "boolean"}, "consistencygroup_id": UUID, "group_id": UUID,
            "backup_id": UUID}},
        "OS-SCH-HNT:scheduler_hints": {"type": ["object", "null"]}}}
VOLUME_UPDATE: dict[str, Any] = {
    "type": "object", "required": ["volume"],
    "properties": {"volume": {"type": "object", "additionalProperties": False, "properties": {
        "name": NAME, "description": DESC, "display_name": NAME, "display_description": DESC,
        "metadata": METADATA}}}}
METADATA_BODY: dict[str, Any] = {"type": "object", "required": ["metadata"], "properties": {"metadata": METADATA},
                                 "additionalProperties": False}
META_ITEM: dict[str, Any] = {"type": "object", "required": ["meta"], "additionalProperties": False,
                             "properties": {"meta": {**METADATA, "minProperties": 1, "maxProperties": 1}}}
SNAPSHOT_CREATE: dict[str, Any] = {
    "type": "object", "required": ["snapshot"],
    "properties": {"snapshot": {"type": "object", "required": ["volume_id"], "properties": {
        "volume_id": {"type": ["string", "null"], "maxLength": 36}, "name": NAME, "description": DESC,
        "display_name": NAME, "display_description": DESC, "force": BOOLISH, "metadata": NULL_METADATA}}}}
SNAPSHOT_UPDATE: dict[str, Any] = {
    "type": "object", "required": ["snapshot"],
    "properties": {"snapshot": {"type": "object", "additionalProperties": False, "properties": {
        "name": NAME, "description": DESC, "display_name": NAME, "display_description": DESC}}}}
ACTION: dict[str, Any] = {"type": "object", "minProperties": 1, "maxProperties": 1}
TYPE_CREATE: dict[str, Any] = {
    "type": "object", "required": ["volume_type"],
    "properties": {"volume_type": {"type": "object", "required": ["name"], "additionalProperties": False,
                                   "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": r"\S"},
        "description": DESC, "os-volume-type-access:is_public": BOOLISH, "is_public": BOOLISH,
        "extra_specs": METADATA}}}}
TYPE_UPDATE: dict[str, Any] = {
    "type": "object", "required": ["volume_type"],
    "properties": {"volume_type": {"type": "object", "additionalProperties": False, "properties": {
        "name": {"type": ["string", "null"], "minLength": 1, "maxLength": 255}, "description": DESC,
        "is_public": BOOLISH}}}}
EXTRA_SPECS: dict[str, Any] = {"type": "object", "required": ["extra_specs"],
                               "properties": {"extra_specs": METADATA}}
ATTACHMENT_CREATE: dict[str, Any] = {
    "type": "object", "required": ["attachment"],
    "properties": {"attachment": {"type": "object", "required": ["volume_uuid"], "properties": {
        "volume_uuid": {"type": "string", "maxLength": 36}, "instance_uuid": UUID,
        "connector": {"type": ["object", "null"]}, "mode": {"enum": ["rw", "ro"]}}}}}
ATTACHMENT_UPDATE: dict[str, Any] = {
    "type": "object", "required": ["attachment"],
    "properties": {"attachment": {"type": "object", "required": ["connector"], "properties": {
        "connector": {"type": "object"}}}}}
QUOTA_SET: dict[str, Any] = {
    "type": "object", "required": ["quota_set"],
    "properties": {"quota_set": {"type": "object", "additionalProperties": {
        "oneOf": [{"type": "integer", "minimum": -1, "maximum": 2 ** 31 - 1},
                  {"type": "string", "pattern": "^-?[0-9]{1,10}$"}, {"type": "null"}]}}}}
QUOTA_CLASS_SET: dict[str, Any] = {
    "type": "object", "required": ["quota_class_set"],
    "properties": {"quota_class_set": QUOTA_SET["properties"]["quota_set"]}}

VOLUME = single("volume")
VOLUMES = {"type": "object", "required": ["volumes"], "properties": {"volumes": {"type": "array"}}}
SNAPSHOT = single("snapshot")
SNAPSHOTS = {"type": "object", "required": ["snapshots"], "properties": {"snapshots": {"type": "array"}}}
META_OUT = single("metadata")
