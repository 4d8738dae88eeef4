"""Options of the block storage service (Cinder)."""

from litestack.common.config import Option, register_section

VOLUME = register_section("volume", "Block storage service (Cinder v3).", [
    Option("backends", list, ["file-1:file"],
           "The backends of this host's volume agent, each \"name:kind\" (kind: file or fake). A file\n"
           "backend keeps its volumes under DATA_DIR/volume/NAME as thin files made with qemu-img; a\n"
           "fake one keeps no data (API-only clouds). The name is the volume_backend_name types match."),
    Option("volume_format", str, "raw", "Format of a file backend's volume files: raw or qcow2.",
           choices=("raw", "qcow2")),
    Option("capacity_gb", int, 1000, "Capacity a file backend reports, in GiB (thin-provisioned).", minimum=1),
    Option("availability_zone", str, "nova", "Availability zone of this host's volume agent."),
    Option("local_agent", bool, True,
           "Run this host's volume agent in the API process (all-in-one). Off: run\n"
           "`litestack agent volume --host NAME` on each storage host instead."),
    Option("host", str, "",
           "Name of the in-process agent's host (empty: the machine's host name)."),
    Option("export_address", str, "127.0.0.1",
           "Address this host's NBD exports listen on: what other hosts connect to when a volume is\n"
           "attached to a server elsewhere (qemu-nbd)."),
    Option("default_volume_type", str, "__DEFAULT__", "The volume type of volumes created without one."),
    Option("default_group_type", str, "",
           "The group type `group_types/default` shows (Cinder's default_group_type; empty: none, 404)."),
    Option("operation_timeout", int, 600,
           "Seconds a volume or snapshot may stay creating, deleting, extending, ... before it goes to\n"
           "error (an agent that died mid-operation).", minimum=5),
    Option("report_interval", int, 10, "Seconds between an agent's capacity reports.", minimum=1),
    Option("service_down_time", int, 60,
           "Seconds after an agent's last report when the scheduler stops choosing it.", minimum=2),
    Option("quota_volumes", int, 10, "Default quota of volumes per project (-1: unlimited).", minimum=-1),
    Option("quota_snapshots", int, 10, "Default quota of snapshots per project.", minimum=-1),
    Option("quota_gigabytes", int, 1000, "Default quota of GiB of volumes and snapshots per project.",
           minimum=-1),
    Option("quota_backups", int, 10, "Default quota of backups per project.", minimum=-1),
    Option("quota_backup_gigabytes", int, 1000, "Default quota of GiB of backups per project.", minimum=-1),
    Option("quota_groups", int, 10, "Default quota of generic volume groups per project.", minimum=-1),
    Option("backup_container", str, "volumebackups",
           "Container of a project's backups in object storage (used when object-store is in the catalog;\n"
           "otherwise backups go to the agent host's DATA_DIR/volume/backups)."),
    Option("message_ttl", int, 2592000,
           "Seconds a user message (/messages) is kept after the failure it reports.", minimum=1),
    Option("cluster", str, "",
           "Name of the cluster this host's volume agent belongs to (empty: none). Agents of one\n"
           "cluster are listed together under /clusters (3.7)."),
    Option("image_conversion_dir", str, "",
           "Where image data is staged while it is converted (empty: DATA_DIR/volume/conversion)."),
])
