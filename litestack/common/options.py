"""Options shared by every service."""

from litestack.common.config import Option, register_section

DEFAULT = register_section("DEFAULT", "Process-wide settings.", [
    Option("data_dir", str, "data", "Directory holding all state: databases, keys, clouds.yaml, logs."),
    Option("host", str, "127.0.0.1", "Address the all-in-one API listens on."),
    Option("port", int, 8800, "Port the all-in-one API listens on.", minimum=1),
    Option("workers", int, 1,
           "API worker processes. 1 serves everything from one process (bcrypt still uses every core\n"
           "through threads); more fork workers that share the listening socket.", minimum=1),
    Option("public_url", str, "", "Base URL clients use (default http://HOST:PORT)."),
    Option("region", str, "RegionOne", "Region name written in the catalog."),
    Option("log_level", str, "INFO", "Log level.", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
    Option("transport_url", str, "inproc://",
           "RPC bus: inproc:// (one process) or amqp://user:pass@host:5672/ (RabbitMQ).", secret=True),
    Option("database_url", str, "",
           "SQLAlchemy URL template for every service's database; {service} is replaced by the\n"
           "service name. Empty means one SQLite file per service in data_dir.", secret=True),
    Option("services", list, [],
           "Services the all-in-one cloud runs (`litestack up`); empty: every built-in service\n"
           "(litestack/registry.py). `litestack serve NAME` runs one."),
    Option("service_plugins", list, [],
           "More services beside the built-in ones (litestack/registry.py), each a ServiceSpec\n"
           "named as \"package.module:ATTRIBUTE\" (see docs/framework.md)."),
    Option("policy_dir", str, "", "Directory with <service>-policy.yaml override files."),
    Option("log_max_bytes", int, 50 << 20,
           "Rotate data_dir/logs/litestack.log when it reaches this size (0: never, for an\n"
           "external logrotate; the file is reopened when moved).", minimum=0),
    Option("log_backup_count", int, 5, "Rotated log files kept (litestack.log.1 ...).", minimum=0),
    Option("header_timeout", float, 10.0,
           "Seconds a client has to send a request's headers (from connecting, or from the first\n"
           "byte of the next request on a kept-alive connection); then 408 and the connection closes.",
           minimum=0.1),
    Option("body_timeout", float, 30.0,
           "Seconds a request body may go without a byte arriving; then 408 and the connection closes.",
           minimum=0.1),
    Option("max_header_bytes", int, 65536,
           "Largest request line plus headers, in bytes; larger gets 431 and the connection closes.",
           minimum=1024),
    Option("keepalive_timeout", float, 5.0,
           "Seconds an idle kept-alive connection stays open between requests.", minimum=0.1),
    Option("max_connections", int, 2048,
           "Open client connections per API process; beyond this, new connections get 503 and are\n"
           "closed at once. Lowered at start when the file-descriptor limit cannot hold them.",
           minimum=1),
    Option("trusted_proxies", list, [],
           "Addresses of the reverse proxies whose X-Forwarded-For/-Proto headers are believed (the\n"
           "client address is used for login throttling). Empty: none; the peer is the client."),
])

AUTH = register_section("auth", "Token validation by the auth middleware of every service.", [
    Option("cache_ttl", int, 300,
           "Seconds a validated token stays cached; revocation events evict entries at once.", minimum=0),
    Option("cache_size", int, 10000, "Maximum number of cached token validations.", minimum=0),
    Option("identity_url", str, "",
           "The identity API's URL (http://HOST:5000) for a service served without it\n"
           "(`litestack serve NAME` of a service other than identity)."),
])
