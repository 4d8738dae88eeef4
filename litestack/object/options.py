"""Options of object storage (Swift)."""

from litestack.common.config import Option, register_section

OBJECT = register_section("object", "Object storage (Swift v1): the proxy and the storage servers it starts.", [
    Option("devices", str, "",
           "Directory holding the storage devices of the storage server `litestack up` runs\n"
           "(one sub-directory per device). Empty: DATA_DIR/object/devices."),
    Option("replicas", int, 3, "Replicas of every account, container and object in the ring made at the\n"
           "first start.", minimum=1),
    Option("part_power", int, 8, "Partition power of the ring made at the first start (2**N partitions).",
           minimum=1),
    Option("aio_devices", int, 3,
           "Devices the first start creates, each in its own zone (d1 in zone 1, ...). More devices\n"
           "than replicas gives handoffs.", minimum=1),
    Option("storage_servers", bool, True,
           "Run the storage server of this host's devices inside `litestack up` (off: the ring's\n"
           "devices are served by `litestack agent object-storage` processes)."),
    Option("storage_host", str, "127.0.0.1", "Address the in-process storage server listens on."),
    Option("node_timeout", float, 10.0, "Seconds the proxy waits for a storage server.", minimum=0.1),
    Option("updater_interval", float, 5.0,
           "Seconds between passes of the object updater, which sends container updates that\n"
           "failed (async pending) again; 0 disables it.", minimum=0),
    Option("replicator_interval", float, 30.0,
           "Seconds between passes of the replicator (objects, containers and accounts pushed to\n"
           "the other replicas, handoff copies moved home); 0 disables it.", minimum=0),
    Option("auditor_interval", float, 300.0,
           "Seconds between passes of the object auditor (every object read and checked against\n"
           "its md5; a bad one is quarantined); 0 disables it.", minimum=0),
    Option("auditor_files_per_second", float, 20.0,
           "Most objects the auditor reads per second and device (Swift's default); 0: no limit.",
           minimum=0),
    Option("expirer_interval", float, 30.0,
           "Seconds between passes of the object expirer (objects past X-Delete-At removed;\n"
           "they read as 404 already); 0 disables it.", minimum=0),
    Option("reclaim_age", float, 604800.0,
           "Seconds a delete's tombstone (and a deleted listing row) is kept before it is\n"
           "reclaimed: a replica down longer than this may bring deleted objects back.", minimum=0),
    Option("max_file_size", int, 5368709122, "Largest object, in bytes.", minimum=1),
])
