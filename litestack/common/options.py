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
    Option("services", list, ["identity"], "Services the all-in-one cloud runs."),
    Option("policy_dir", str, "", "Directory with <service>-policy.yaml override files."),
])

AUTH = register_section("auth", "Token validation by the auth middleware of every service.", [
    Option("cache_ttl", int, 300,
           "Seconds a validated token stays cached; revocation events evict entries at once.", minimum=0),
    Option("cache_size", int, 10000, "Maximum number of cached token validations.", minimum=0),
])
