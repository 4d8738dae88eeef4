"""Options of the image service (Glance)."""

from litestack.common.config import Option, register_section

IMAGE = register_section("image", "Image service (Glance v2).", [
    Option("disk_formats", list,
           ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"],
           "Values the disk_format image attribute may take (Glance's [image_format] disk_formats)."),
    Option("container_formats", list, ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"],
           "Values the container_format image attribute may take."),
    Option("stores", list, ["fast:file", "cheap:file"],
           "The image stores, each \"name:kind\" (kind: file or swift). A file store keeps its data\n"
           "under DATA_DIR/image/stores/NAME; a swift store, in the object storage service\n"
           "(container glance of the image service user's account). More than one makes\n"
           "/v2/info/stores and copy-image real."),
    Option("default_store", str, "",
           "The store new image data goes to (empty: the first of `stores`)."),
    Option("image_size_cap", int, 1 << 40,
           "Largest image, in bytes, an upload or stage may write; beyond, 413.", minimum=1),
    Option("enabled_import_methods", list, ["glance-direct", "copy-image", "web-download"],
           "Interoperable import methods advertised by /v2/info/import."),
    Option("web_download_enabled", bool, False,
           "Offer the web-download import method (off: it is not advertised, and asking for it\n"
           "gets Glance's \"Unknown import method name\" 400). Only http(s) URLs are fetched."),
    Option("web_download_allowed_hosts", list, [],
           "Hosts web-download may fetch from even when they resolve to loopback, link-local,\n"
           "unspecified or multicast addresses (which are refused otherwise)."),
    Option("show_multiple_locations", bool, False,
           "Show the `locations` attribute of images (Glance's show_multiple_locations)."),
    Option("use_keystone_limits", bool, True,
           "Enforce Glance's unified limits (image_size_total, image_stage_total, image_count_total,\n"
           "image_count_uploading: registered in identity at bootstrap, per-project limits through\n"
           "/v3/limits); 413 beyond. Each create, upload and stage then asks identity for them."),
    Option("image_property_quota", int, 128, "Most custom properties an image may have (413 beyond).",
           minimum=0),
    Option("image_tag_quota", int, 128, "Most tags an image may have (413 beyond).", minimum=0),
    Option("image_member_quota", int, 128, "Most members an image may have (413 beyond).", minimum=0),
    Option("limit_param_default", int, 25, "Images a list returns when the client gives no limit.",
           minimum=1),
    Option("api_limit_max", int, 1000, "Most images one list returns, whatever the client asks.",
           minimum=1),
    Option("scrub_interval", int, 3600,
           "Seconds between the runs of the orphan scrubber (temporary files and data no image\n"
           "refers to, left by a crash); 0 disables it (`litestack image scrub` runs it once).",
           minimum=0),
    Option("scrub_min_age", int, 3600,
           "Seconds a temporary or unreferenced file must be old before the scrubber removes it.",
           minimum=0),
])
