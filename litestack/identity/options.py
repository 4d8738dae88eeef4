"""Options of the identity service (Keystone)."""

from litestack.common.config import Option, register_section

IDENTITY = register_section("identity", "Identity service (Keystone v3).", [
    Option("token_expiration", int, 3600, "Token lifetime in seconds.", minimum=60),
    Option("allow_expired_window", int, 172800,
           "Seconds after expiry during which a service may still fetch an expired token with\n"
           "allow_expired=1.", minimum=0),
    Option("receipt_expiration", int, 300,
           "Seconds an auth receipt (multi-factor auth: the methods a user passed so far) stays valid.",
           minimum=30),
    Option("totp_included_previous_windows", int, 1,
           "TOTP: how many 30-second windows before the current one a passcode may come from.",
           choices=tuple(range(11))),
    Option("password_hash_rounds", int, 12, "bcrypt cost factor for password hashes.", minimum=4),
    Option("max_active_keys", int, 3, "Fernet keys kept (staged + primary + secondaries).", minimum=2),
    Option("list_limit", int, 0,
           "The most items a list returns (Keystone's list_limit); a list cut short says\n"
           "\"truncated\": true. Clients' limit and marker are ignored, as in Keystone. 0: no limit.",
           minimum=0),
    Option("key_store", str, "files",
           "Where the token, receipt and credential keys and the generated passwords live: \"files\"\n"
           "in data_dir (one host), or \"database\" in the identity database, encrypted under\n"
           "master_key, so that every host sharing the database is one cloud (docs/operations.md).",
           choices=("files", "database")),
    Option("master_key", str, "",
           "When key_store is \"database\": the key that encrypts the shared keys, the same on every\n"
           "host (`litestack identity new-master-key` makes one). Keep it out of the database.",
           secret=True),
    Option("hash_workers", int, 0, "Password hashes computed at once; 0 means one per CPU core.", minimum=0),
    Option("hash_queue", int, 24,
           "Password checks that may wait for a hashing slot, all clients together; beyond, 429 at\n"
           "once (each waiting check holds a worker thread that other requests need too).", minimum=1),
    Option("hash_queue_per_source", int, 8,
           "Password checks one client address may have waiting; waiting checks are served one\n"
           "address at a time in turn, so one client cannot delay the others' logins.", minimum=1),
    Option("auth_failures_per_source", int, 100,
           "Failed logins (password, application credential, self-service password change) one\n"
           "client address may make per auth_failure_window; then 429 without checking, until the\n"
           "window moves (0: no limit).",
           minimum=0),
    Option("auth_failures_per_user", int, 20,
           "Failed logins per user name, unknown names included, per auth_failure_window; then 429\n"
           "without checking (0: no limit). Unlike lockout it ends by itself.", minimum=0),
    Option("auth_failure_window", int, 60, "Seconds over which failed logins are counted.", minimum=1),
    Option("lockout_failure_attempts", int, 0,
           "PCI-DSS: lock a user after this many failed logins (0 disables).", minimum=0),
    Option("lockout_duration", int, 1800, "PCI-DSS: seconds a locked user stays locked.", minimum=1),
    Option("password_expires_days", int, 0,
           "PCI-DSS: days before a password must be changed (0 disables).", minimum=0),
    Option("unique_last_password_count", int, 0,
           "PCI-DSS: a new password may not repeat the last N passwords (0 or 1 disables).", minimum=0),
    Option("minimum_password_age", int, 0,
           "PCI-DSS: days a password must be kept before the user may change it again.", minimum=0),
    Option("change_password_upon_first_use", bool, False,
           "PCI-DSS: a password set by an administrator is expired at once, so the user must\n"
           "change it (POST /v3/users/{id}/password) before logging in."),
    Option("disable_user_account_days_inactive", int, 0,
           "PCI-DSS: a user who has not authenticated for this many days is disabled (0: never);\n"
           "an administrator re-enables them, and the user option ignore_user_inactivity exempts them.",
           minimum=0),
    Option("password_regex", str, "", "PCI-DSS: a regular expression new passwords must match."),
    Option("password_regex_description", str, "", "Human text describing password_regex."),
    Option("admin_password", str, "", "Bootstrap admin password (empty: random, on first start).",
           secret=True),
])
