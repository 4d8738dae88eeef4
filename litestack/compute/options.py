"""Options of the compute service (Nova)."""

from litestack.common.config import Option, register_section

COMPUTE = register_section("compute", "Compute service (Nova v2.1).", [
    Option("max_limit", int, 1000,
           "The most items a list answers in one page (Nova's [api] max_limit); a longer list ends\n"
           "with a `next` link (`servers_links`) that carries the marker.", minimum=1),
    Option("fake_hosts", int, 1,
           "In all-in-one mode, how many fake compute hosts run in this process, each with its own\n"
           "agent and resource provider (`litestack up --fake-hosts N`). The first is named after\n"
           "the machine, the others HOSTNAME-2 … HOSTNAME-N. 0 runs none (agents run elsewhere).",
           minimum=0),
    Option("host", str, "", "The name of this machine's compute host (empty: the machine's host name)."),
    Option("virt_driver", str, "fake", "The virt driver of the compute agents.", choices=("fake",)),
    Option("fake_vcpus", int, 16, "VCPUs each fake host reports.", minimum=1),
    Option("fake_memory_mb", int, 65536, "Memory (MiB) each fake host reports.", minimum=1),
    Option("fake_disk_gb", int, 1000, "Local disk (GiB) each fake host reports.", minimum=1),
    Option("fake_spawn_delay", float, 0.0,
           "Seconds the fake driver takes to spawn an instance (a realistic delay when wanted).", minimum=0),
    Option("cpu_allocation_ratio", float, 4.0, "Placement allocation ratio of VCPU.", minimum=0),
    Option("ram_allocation_ratio", float, 1.0, "Placement allocation ratio of MEMORY_MB.", minimum=0),
    Option("disk_allocation_ratio", float, 1.0, "Placement allocation ratio of DISK_GB.", minimum=0),
    Option("reserved_host_memory_mb", int, 512, "Memory reserved for the host itself.", minimum=0),
    Option("default_availability_zone", str, "nova", "The availability zone of hosts (Nova's)."),
    Option("report_interval", float, 10.0, "Seconds between a compute agent's heartbeats.", minimum=0.1),
    Option("service_down_time", float, 60.0,
           "Seconds without a heartbeat after which a compute service is down.", minimum=1),
    Option("sync_power_state_interval", float, 60.0,
           "Seconds between an agent's reconciliation of the driver's instances with the database\n"
           "(lost guests are stopped, guests of deleted servers destroyed); 0 disables it.", minimum=0),
    Option("max_attempts", int, 3, "Hosts a build is tried on (the first and its alternates).", minimum=1),
    Option("reclaim_instance_interval", float, 0.0,
           "Seconds a deleted server stays SOFT_DELETED (restorable; forceDelete deletes it at once) before "
           "its host's agent reclaims it; 0 deletes at once.", minimum=0),
    Option("vif_plugging_timeout", float, 300.0,
           "Seconds the agent waits for network-vif-plugged events after plugging the ports\n"
           "(0: do not wait). It waits only when the network service has an alive L2 agent on\n"
           "the host; otherwise no event can come and it does not wait.", minimum=0),
    Option("vif_plugging_is_fatal", bool, True,
           "Whether a missing network-vif-plugged event (timeout) fails the build."),
    Option("ram_weight_multiplier", float, 1.0,
           "RAM weigher: positive spreads instances over hosts, negative packs them."),
    Option("cpu_weight_multiplier", float, 1.0, "CPU weigher multiplier (as the RAM one)."),
    Option("disk_weight_multiplier", float, 1.0, "Disk weigher multiplier (as the RAM one)."),
    Option("placement_microversion", str, "1.28", "The placement microversion the scheduler asks for."),
    Option("allow_resize_to_same_host", bool, False,
           "Whether a resize may choose the server's own host (Nova's option of that name).\n"
           "Cold migrations always leave the host."),
    Option("resize_confirm_window", float, 0.0,
           "Seconds after which a resize or cold migration waiting in VERIFY_RESIZE is confirmed\n"
           "automatically (0: never, as Nova's default).", minimum=0),
    Option("shelved_offload_time", float, 0.0,
           "Seconds a shelved server keeps its host before it is offloaded (its resources freed);\n"
           "0 offloads at once, -1 never (Nova's option).", minimum=-1),
    Option("move_poll_interval", float, 10.0,
           "Seconds between an agent's checks for resizes to confirm and shelved servers to offload.",
           minimum=0.1),
    Option("fake_live_migration_time", float, 0.0,
           "Seconds a live migration takes on the fake driver (memory copy simulated; while it runs\n"
           "it can be forced to complete or aborted).", minimum=0),
    Option("quota_instances", int, 10, "Default instances per project (-1: unlimited).", minimum=-1),
    Option("quota_cores", int, 20, "Default VCPUs per project.", minimum=-1),
    Option("quota_ram", int, 51200, "Default MiB of RAM per project.", minimum=-1),
    Option("quota_key_pairs", int, 100, "Default key pairs per user.", minimum=-1),
    Option("quota_metadata_items", int, 128, "Default metadata items per server.", minimum=-1),
    Option("quota_server_groups", int, 10, "Default server groups per project.", minimum=-1),
    Option("quota_server_group_members", int, 10, "Default servers per server group.", minimum=-1),
    Option("block_device_allocate_timeout", float, 180.0,
           "Seconds a compute agent waits for a volume that a boot asked block storage to create\n"
           "(from an image, a snapshot or empty) to become available (Nova's\n"
           "block_device_allocate_retries x block_device_allocate_retries_interval).", minimum=1),
])
